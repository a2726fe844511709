import type { DescService } from '@bufbuild/protobuf';
import type { ConnectRouter, Interceptor } from '@connectrpc/connect';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createPayloadBudget, type PayloadBudget } from '../store/payload-budget.js';
import type { MessageStore } from '../store/store.js';
import { buildApp } from './app.js';
import { openAuthLayer } from './auth/auth-layer.js';
import type { Config, ServiceName } from './config.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createReadiness, type Readiness } from './readiness.js';
import { instrumentStore, observeStorage } from './store-metrics.js';

/** What a service's routes receive: never module singletons. */
export interface ServiceDeps {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  store: MessageStore;
  readiness: Readiness;
  /** The process's bound on payload bytes in flight, for what the request gate does not admit (streams). */
  payloadBudget: PayloadBudget;
}

/** A service: its public Connect services and the routes that implement them. */
export interface ServiceDefinition {
  name: ServiceName;
  services: DescService[];
  routes(deps: ServiceDeps): (router: ConnectRouter) => void;
  /** Plain HTTP routes beside the RPCs (egress serves the dashboard). */
  http?(deps: ServiceDeps): (app: FastifyInstance) => void;
}

export interface RunningService {
  name: ServiceName;
  app: FastifyInstance;
  /** `http://host:port` (`https://` with TLS) the service listens on. */
  url: string;
  readiness: Readiness;
  /** Not ready, streams ended, in-flight calls finished (bounded), port closed. */
  stop(): Promise<void>;
}

export interface StartOptions {
  config: Readonly<Config>;
  logger: Logger;
  store: MessageStore;
  interceptors?: Interceptor[];
  /** Shared by every service of the process and its store's reads; one from config when absent. */
  payloadBudget?: PayloadBudget;
}

/** Builds a service's app over a shared store and listens on its port. */
export async function startService(definition: ServiceDefinition, options: StartOptions): Promise<RunningService> {
  const { config } = options;
  const logger = options.logger.child({ service: definition.name });
  const metrics = createMetrics();
  const readiness = createReadiness({ check: () => options.store.checkHealth(), logger });
  metrics.ready.set({ service: definition.name }, 0);
  readiness.onChange((ready) => metrics.ready.set({ service: definition.name }, ready ? 1 : 0));
  const store = instrumentStore(options.store, metrics, config.storage);
  observeStorage(options.store, metrics.registry);
  const payloadBudget = options.payloadBudget ?? payloadBudgetOf(config);
  const deps: ServiceDeps = { config, logger, metrics, store, readiness, payloadBudget };
  const auth = await openAuthLayer(config.auth, { logger, metrics });

  const app = await buildApp({
    config,
    logger,
    metrics,
    readiness,
    services: definition.services,
    routes: definition.routes(deps),
    ...(definition.http ? { http: definition.http(deps) } : {}),
    interceptors: options.interceptors ?? [],
    auth,
    payloadBudget,
  });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let stopping: Promise<void> | undefined;
  return {
    name: definition.name,
    app,
    url: `${config.tls ? 'https' : 'http'}://${host}:${port}`,
    readiness,
    stop() {
      stopping ??= (async () => {
        readiness.drain();
        await app.close();
        readiness.stop();
        auth?.close();
      })();
      return stopping;
    },
  };
}

/** The process's bound on payload bytes in flight, as configured. */
export function payloadBudgetOf(config: Readonly<Config>): PayloadBudget {
  return createPayloadBudget({
    maxBytes: config.payloadInFlightMaxBytes,
    waitMs: config.payloadAdmissionWaitMs,
    limitName: 'PAYLOAD_IN_FLIGHT_MAX_BYTES',
  });
}
