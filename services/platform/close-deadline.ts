import { setMaxListeners } from 'node:events';
import { Code, ConnectError } from '@connectrpc/connect';
import type { FastifyInstance } from 'fastify';

/** After the deadline, the aborted calls get this long to send their status. */
export const abortGraceMs = 1000;

/**
 * A signal that aborts every in-flight RPC `timeoutMs` after `app` starts
 * closing, for connect-fastify's `shutdownSignal`; `abortGraceMs` later, every
 * connection still open is destroyed, so close always completes. Its own
 * `shutdownTimeoutMs` only aborts the calls, and has two faults: the timer is
 * never cleared, so an app that closed at once still holds the process for the
 * whole timeout, and its signal keeps the default limit of 10 listeners, so
 * more than 10 concurrent calls print a MaxListenersExceededWarning although
 * nothing leaks.
 */
export function closeDeadlineSignal(app: FastifyInstance, timeoutMs: number): AbortSignal {
  const controller = new AbortController();
  // Every in-flight call listens to it, and removes its listener when it ends.
  setMaxListeners(0, controller.signal);
  let timer: NodeJS.Timeout | undefined;
  app.addHook('preClose', (done) => {
    timer = setTimeout(() => {
      // Calls still running then end UNAVAILABLE, so clients retry on another replica.
      controller.abort(new ConnectError('server is shutting down', Code.Unavailable));
      // A call can outlive its abort: a client that never reads holds its last writes (and the
      // status) on flow control, a request stream the client never ends holds its reader.
      timer = setTimeout(() => app.server.closeAllConnections(), abortGraceMs);
    }, timeoutMs);
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    clearTimeout(timer);
    done();
  });
  return controller.signal;
}
