import { Code, ConnectError, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import { codeName, toConnectError } from './rpc-errors.js';

/**
 * Every RPC passes here: failures are mapped to gRPC codes in one place,
 * then counted, timed and logged in one line with method, code and duration.
 * A server stream counts as open until its last message or error. A call
 * whose client went away is CANCELLED, whatever the handler failed with.
 */
export function createRpcObserver(metrics: Metrics, logger: Logger): Interceptor {
  return (next) => async (request) => {
    const started = performance.now();
    const labels = { service: request.service.typeName, method: request.method.name };
    const finish = (failure?: ConnectError) => recordRpc(metrics, logger, labels, started, failure);
    let response: Awaited<ReturnType<typeof next>>;
    try {
      response = await next(request);
    } catch (reason) {
      const failure = cancellationOf(request.signal) ?? toConnectError(reason, logger);
      finish(failure);
      throw failure;
    }
    if (!response.stream) {
      finish();
      return response;
    }
    metrics.openStreams.inc(labels);
    const messages = response.message;
    async function* observed() {
      let failure: ConnectError | undefined;
      try {
        yield* messages;
      } catch (reason) {
        failure = cancellationOf(request.signal) ?? toConnectError(reason, logger);
        throw failure;
      } finally {
        // Ended (or stopped early) because the client is gone, with no error of its own.
        failure ??= cancellationOf(request.signal);
        metrics.openStreams.dec(labels);
        finish(failure);
      }
    }
    return { ...response, message: observed() };
  };
}

/**
 * Why the call ended if its signal fired: a deadline or the server's shutdown
 * keep their code; a client that went away (reset, closed, or cancelled) is CANCELLED.
 */
function cancellationOf(signal: AbortSignal): ConnectError | undefined {
  if (!signal.aborted) return undefined;
  const reason: unknown = signal.reason;
  if (reason instanceof ConnectError && (reason.code === Code.DeadlineExceeded || reason.code === Code.Unavailable)) return reason;
  return new ConnectError('the client cancelled the call', Code.Canceled);
}

/**
 * A request gate (which runs before the body is read, and before any
 * interceptor) whose refusals are counted and logged like every other RPC.
 */
export function observeGate(
  gate: (context: HandlerContext) => Promise<void>,
  metrics: Metrics,
  logger: Logger,
): (context: HandlerContext) => Promise<void> {
  return async (context) => {
    const started = performance.now();
    try {
      await gate(context);
    } catch (reason) {
      throw recordRefusal(context, started, reason, metrics, logger);
    }
  };
}

/** A call refused before its interceptors ran, counted and logged; the error to end it with. */
export function recordRefusal(context: HandlerContext, started: number, reason: unknown, metrics: Metrics, logger: Logger): ConnectError {
  const failure = toConnectError(reason, logger);
  recordRpc(metrics, logger, { service: context.service.typeName, method: context.method.name }, started, failure);
  return failure;
}

function recordRpc(
  metrics: Metrics,
  logger: Logger,
  labels: { service: string; method: string },
  started: number,
  failure?: ConnectError,
): void {
  const code = codeName(failure ? failure.code : 'ok');
  const seconds = (performance.now() - started) / 1000;
  metrics.rpcHandled.inc({ ...labels, code });
  metrics.rpcSeconds.observe(labels, seconds);
  const line = { rpc: `${labels.service}/${labels.method}`, code, ms: Math.round(seconds * 1e4) / 10 };
  if (failure && failure.code !== undefined && isServerFault(code))
    logger.warn({ ...line, err: failure.cause ?? failure.rawMessage }, 'rpc failed');
  else logger.info(line, failure ? `rpc rejected: ${failure.rawMessage}` : 'rpc');
}

function isServerFault(code: string): boolean {
  return code === 'INTERNAL' || code === 'UNAVAILABLE' || code === 'UNKNOWN' || code === 'DATA_LOSS';
}
