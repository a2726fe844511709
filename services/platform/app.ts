import type http from 'node:http';
import type http2 from 'node:http2';
import cors from '@fastify/cors';
import type { DescService } from '@bufbuild/protobuf';
import {
  cors as connectCors,
  createConnectRouter,
  createContextValues,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
} from '@connectrpc/connect';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PayloadBudget } from '../store/payload-budget.js';
import { createAdmissionGate, nodeRequestKey } from './admission-gate.js';
import type { AuthLayer } from './auth/auth-layer.js';
import { closeDeadlineSignal } from './close-deadline.js';
import type { Config } from './config.js';
import { createDualProtocolServer, type DualProtocolHandler } from './dual-protocol-server.js';
import { acceptGrpcWebText } from './grpc-web-text.js';
import { Health } from '../../gen/grpc/health/v1/health_pb.js';
import { healthRoutes, registerHealthEndpoints } from './health.js';
import type { Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import { reflectionRoutes } from './reflection.js';
import { nativeGrpcFirst } from './native-grpc-door.js';
import { limitRequestSize } from './request-size-limit.js';
import { createRpcObserver, observeGate, recordRefusal } from './rpc-observer.js';

export interface AppOptions {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  readiness: Readiness;
  /** The services `routes` registers: named by health and reflection. */
  services: DescService[];
  routes: (router: ConnectRouter) => void;
  /** Plain HTTP routes beside the RPCs and probes. */
  http?: (app: FastifyInstance) => void;
  /** Run after the observer, so they see raw failures and it sees their codes. */
  interceptors?: Interceptor[];
  /** Authentication and authorization of every RPC; none when AUTH_MODE=disabled. */
  auth?: AuthLayer | undefined;
  /** The process's bound on payload bytes in flight; unary request bodies are admitted against it. */
  payloadBudget: PayloadBudget;
}

// Room for protobuf framing and headers around the largest payload.
const envelopeSlackBytes = 1024 * 1024;
const compressMinBytes = 1024 * 1024;

/**
 * One service's Fastify instance, ready but not listening: Connect (gRPC,
 * gRPC-Web, Connect) plus health and reflection on the same port as
 * /healthz, /readyz and /metrics. Only the caller listens.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, logger, metrics, readiness } = options;
  // Both bound before any request: Fastify's at once, native gRPC's below, before the caller listens.
  let serveHttp: DualProtocolHandler | undefined;
  let serveGrpc: DualProtocolHandler | undefined;
  const app = fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    // RPCs are logged by the observer, one line each; probes and scrapes stay quiet.
    logController: new LogController({ disableRequestLogging: true }),
    // Fastify's types know one protocol per server; at run time its handler
    // serves http and http2 compatibility requests alike.
    serverFactory: (handler) => {
      serveHttp = handler as DualProtocolHandler;
      return createDualProtocolServer(acceptGrpcWebText(nativeGrpcFirst(() => serveGrpc!, serveHttp)), {
        limits: config.connections,
        tls: config.tls,
        logger,
        metrics,
      }) as unknown as http.Server;
    },
    return503OnClosing: false,
  });

  await app.register(cors, {
    origin: config.corsOrigins.includes('*') ? true : config.corsOrigins,
    methods: [...connectCors.allowedMethods],
    allowedHeaders: [...connectCors.allowedHeaders, 'authorization'],
    exposedHeaders: [...connectCors.exposedHeaders],
    maxAge: 7200,
  });

  registerHealthEndpoints(app, readiness, config.auth.mode);
  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  options.http?.(app);

  const { auth } = options;
  const readMaxBytes = config.maxMessageBytes + envelopeSlackBytes;
  const admit = createAdmissionGate(options.payloadBudget, readMaxBytes, (context, started, reason) =>
    recordRefusal(context, started, reason, metrics, logger),
  );
  // Authentication first, so an anonymous caller never takes room in the payload budget.
  const gate = async (context: HandlerContext) => {
    await auth?.requestGate(context);
    await admit(context);
  };
  const connectOptions = {
    requestGate: observeGate(gate, metrics, logger),
    interceptors: [createRpcObserver(metrics, logger), ...(auth ? [auth.interceptor] : []), ...(options.interceptors ?? [])],
    readMaxBytes,
    writeMaxBytes: config.maxMessageBytes + envelopeSlackBytes,
    // Clients offer gzip by default; compressing every frame of 1 KiB or more cost a third of a
    // stream's CPU and a thread-pool hop of latency per frame. Only large messages are worth it.
    compressMinBytes: compressMinBytes,
    shutdownSignal: closeDeadlineSignal(app, config.shutdownTimeoutMs),
    grpc: true,
    grpcWeb: true,
    connect: true,
  };
  // One set of handlers behind both doors: Fastify's (Connect, gRPC-Web, browsers) and native gRPC's.
  const router = createConnectRouter(connectOptions);
  limitRequestSize(allRoutes(options), { limitBytes: readMaxBytes, maxMessageBytes: config.maxMessageBytes }, logger)(router);
  const routes = (each: ConnectRouter) => each.handlers.push(...router.handlers);
  await app.register(fastifyConnectPlugin, {
    ...connectOptions,
    routes,
    contextValues: (request) => createContextValues().set(nodeRequestKey, request.raw),
  });
  serveGrpc = connectNodeAdapter({
    ...connectOptions,
    routes,
    contextValues: (request) => createContextValues().set(nodeRequestKey, request),
    // A path no handler serves: Fastify answers, as for every other request. Only HTTP/2 comes here.
    fallback: (request, response) => serveHttp!(request, response as http2.Http2ServerResponse),
  });

  await app.ready();
  return app;
}

/** Every Connect route an app serves: the service's own, health and reflection. */
export function allRoutes(options: Pick<AppOptions, 'services' | 'routes' | 'readiness'>): (router: ConnectRouter) => void {
  return (router) => {
    options.routes(router);
    healthRoutes(options.services, options.readiness)(router);
    reflectionRoutes([...options.services, Health])(router);
  };
}
