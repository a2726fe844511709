import type { TestContext } from 'node:test';
import { createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { pino, type Logger } from 'pino';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { egressService } from '../egress/connect.js';
import { ingressService } from '../ingress/connect.js';
import { loadConfig } from '../platform/config.js';
import {
  payloadBudgetOf,
  startService,
  type RunningService,
  type ServiceDefinition,
  type StartOptions,
} from '../platform/start-service.js';
import { createMessageStore, type MessageStoreOptions } from '../store/message-store.js';
import type { PayloadBudget } from '../store/payload-budget.js';
import type { MessageStore } from '../store/store.js';
import { embeddedBackend } from './embedded-backend.js';
import type { TestBackend } from './test-backend.js';

export type Protocol = 'grpc' | 'grpcweb' | 'connect';

export interface TestServices {
  ingress: RunningService;
  egress: RunningService;
  store: MessageStore;
  logger: Logger;
  /** The bound on payload bytes in flight the services and the store share. */
  payloadBudget: PayloadBudget;
}

export interface TestServicesOptions {
  /** Storage under the services; embedded in a temp folder by default. */
  backend?: TestBackend;
  /** Extra environment for loadConfig (SERVER_PORT/HOST are set to an ephemeral loopback port). */
  env?: Record<string, string>;
  store?: Partial<Omit<MessageStoreOptions, 'metadata' | 'objects'>>;
  interceptors?: StartOptions['interceptors'];
  logger?: Logger;
  /** The egress service to start; the production one by default. */
  egress?: ServiceDefinition;
  /** Extra environment for egress alone, once ingress listens (the dashboard's UI_INGRESS_URL). */
  egressEnv?: (ingress: RunningService) => Record<string, string>;
}

/**
 * Ingress and egress on ephemeral 127.0.0.1 ports over one store, the way
 * `runMain` assembles them, stopped (and the store closed) when the test ends.
 */
export async function startTestServices(t: TestContext, options: TestServicesOptions = {}): Promise<TestServices> {
  // node:test runs after-hooks in registration order: this one, registered before the
  // backend's, stops the services and closes the store before the backend is torn down.
  const started: RunningService[] = [];
  let store: MessageStore | undefined;
  t.after(async () => {
    await Promise.all(started.map((service) => service.stop()));
    await store?.close();
  });
  const { metadata, objects } = await (options.backend ?? embeddedBackend).open(t);
  const env = { STORAGE: 'embedded', SERVER_HOST: '127.0.0.1', SERVER_PORT: '0', ...options.env };
  const ingressConfig = loadConfig('ingress', env);
  const logger = options.logger ?? pino({ level: 'silent' });
  const payloadBudget = payloadBudgetOf(ingressConfig);
  store = createMessageStore({
    metadata,
    objects,
    inlineMaxBytes: ingressConfig.inlineMaxBytes,
    maxMessageBytes: ingressConfig.maxMessageBytes,
    payloadBudget,
    duplicateWindowMs: ingressConfig.duplicateWindowMs,
    orphanGraceMs: ingressConfig.orphanGraceMs,
    sweepIntervalMs: ingressConfig.orphanSweepIntervalMs,
    logger,
    ...options.store,
  });
  const shared = { logger, store, payloadBudget, ...(options.interceptors ? { interceptors: options.interceptors } : {}) };
  const ingress = await startService(ingressService, { config: ingressConfig, ...shared });
  started.push(ingress);
  const egressConfig = loadConfig('egress', { ...env, ...options.egressEnv?.(ingress) });
  const egress = await startService(options.egress ?? egressService, { config: egressConfig, ...shared });
  started.push(egress);
  // Each service checks its dependencies on a timer; a test starts once both have checked once, as a probe would see them.
  await Promise.all(started.map((service) => service.readiness.refresh()));
  return { ingress, egress, store, logger, payloadBudget };
}

/** A transport of the generated clients' stack for `baseUrl`. */
export function transportFor(baseUrl: string, protocol: Protocol = 'grpc'): Transport {
  switch (protocol) {
    case 'grpc':
      return createGrpcTransport({ baseUrl });
    case 'grpcweb':
      return createGrpcWebTransport({ baseUrl, httpVersion: '1.1' });
    case 'connect':
      return createConnectTransport({ baseUrl, httpVersion: '1.1' });
  }
}

export function ingressClient(services: TestServices, protocol: Protocol = 'grpc'): Client<typeof IngressService> {
  return createClient(IngressService, transportFor(services.ingress.url, protocol));
}

export function egressClient(services: TestServices, protocol: Protocol = 'grpc'): Client<typeof EgressService> {
  return createClient(EgressService, transportFor(services.egress.url, protocol));
}
