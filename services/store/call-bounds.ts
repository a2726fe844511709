import { StoreUnavailableError } from './store.js';

/**
 * Runs `work` but settles no later than `timeoutMs` (rejecting with
 * {@link StoreUnavailableError}: a dependency that does not answer is
 * unavailable) or the abort of `signal` (rejecting with its reason). The work
 * itself is not cancelled; its late result is dropped.
 */
export async function withCallBounds<T>(description: string, work: () => Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  signal?.throwIfAborted();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const bounds = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`${description} timed out after ${timeoutMs} ms`)), timeoutMs);
    onAbort = () => reject(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work(), bounds]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
