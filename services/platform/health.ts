import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { DescService } from '@bufbuild/protobuf';
import type { FastifyInstance } from 'fastify';
import { Health, HealthCheckResponse_ServingStatus as Status } from '../../gen/grpc/health/v1/health_pb.js';
import type { AuthMode } from './config.js';
import type { Readiness } from './readiness.js';
import { packageVersion } from './version.js';

/**
 * `/healthz`: the process is alive, with what a person checking it wants to
 * know (`mts doctor` reads it): version, Node.js version and whether tokens
 * are needed. `/readyz`: it can serve (JSON, 200 or 503, per dependency).
 */
export function registerHealthEndpoints(app: FastifyInstance, readiness: Readiness, authMode: AuthMode): void {
  const alive = { status: 'ok', version: packageVersion, node: process.version, auth: authMode };
  app.get('/healthz', async () => alive);
  app.get('/readyz', async (_request, reply) => {
    const report = readiness.report();
    return reply.code(report.ready ? 200 : 503).send(report);
  });
}

/**
 * grpc.health.v1.Health over the same readiness: "" and every served service
 * name report SERVING only while ready; other names are NOT_FOUND as the
 * protocol asks. Watch streams send each change and end when draining.
 */
export function healthRoutes(services: DescService[], readiness: Readiness): (router: ConnectRouter) => void {
  const known = new Set(['', ...services.map((service) => service.typeName)]);
  const status = () => (readiness.report().ready ? Status.SERVING : Status.NOT_SERVING);
  return (router) =>
    router.service(Health, {
      check(request) {
        if (!known.has(request.service)) throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
        return { status: status() };
      },
      async *watch(request, context) {
        if (!known.has(request.service)) {
          yield { status: Status.SERVICE_UNKNOWN };
          return;
        }
        let wake = () => {};
        const unsubscribe = readiness.onChange(() => wake());
        const ended = AbortSignal.any([context.signal, readiness.draining]);
        const onEnd = () => wake();
        ended.addEventListener('abort', onEnd);
        try {
          let last: Status | undefined;
          while (!ended.aborted) {
            const current = status();
            if (current !== last) {
              last = current;
              yield { status: current };
            }
            await new Promise<void>((resolve) => {
              wake = resolve;
              if (ended.aborted) resolve();
            });
          }
        } finally {
          unsubscribe();
          ended.removeEventListener('abort', onEnd);
        }
      },
    });
}
