import { setMaxListeners } from 'node:events';
import { Code, ConnectError } from '@connectrpc/connect';
import type { FastifyInstance } from 'fastify';

/**
 * A signal that aborts every in-flight RPC `timeoutMs` after `app` starts
 * closing, for connect-fastify's `shutdownSignal`. Its own `shutdownTimeoutMs`
 * does the same with two faults: the timer is never cleared, so an app that
 * closed at once still holds the process for the whole timeout, and its
 * signal keeps the default limit of 10 listeners, so more than 10 concurrent
 * calls print a MaxListenersExceededWarning although nothing leaks.
 */
export function closeDeadlineSignal(app: FastifyInstance, timeoutMs: number): AbortSignal {
  const controller = new AbortController();
  // Every in-flight call listens to it, and removes its listener when it ends.
  setMaxListeners(0, controller.signal);
  let timer: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    // Calls still running then end UNAVAILABLE, so clients retry on another replica.
    timer = setTimeout(() => controller.abort(new ConnectError('server is shutting down', Code.Unavailable)), timeoutMs);
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearTimeout(timer);
    done();
  });
  return controller.signal;
}
