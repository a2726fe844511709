import { StoreUnavailableError } from './store.js';

/**
 * Runs `work` but settles no later than `timeoutMs` (rejecting with
 * {@link StoreUnavailableError}: a dependency that does not answer is
 * unavailable) or the abort of `signal` (rejecting with its reason). Either
 * way the signal handed to `work` aborts, so work that honours it (an HTTP
 * upload) is cancelled; work that cannot is left to finish and its late
 * result is dropped.
 */
export async function withCallBounds<T>(
  description: string,
  work: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T> {
  signal?.throwIfAborted();
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const bounds = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const timedOut = new StoreUnavailableError(`${description} timed out after ${timeoutMs} ms`);
      stop.abort(timedOut);
      reject(timedOut);
    }, timeoutMs);
    onAbort = () => {
      stop.abort(signal?.reason);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work(stop.signal), bounds]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
