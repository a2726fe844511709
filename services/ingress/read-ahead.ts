/** How far one stream may read ahead of its answers. */
export interface ReadAheadBounds {
  /** Requests read but not yet answered. */
  maxRequests: number;
  /** Their bytes (as `sizeOf` counts them); the request that crosses the bound is still taken. */
  maxBytes: number;
}

/**
 * PublishStream's bound: 128 requests and 16 MiB of payload in flight per
 * stream, plus the one request that crosses it (at most MAX_MESSAGE_BYTES of
 * payload, since a larger one is refused). Beyond that the server stops
 * reading, the HTTP/2 stream window fills and the client's writes wait.
 */
export const publishStreamReadAhead: ReadAheadBounds = { maxRequests: 128, maxBytes: 16 * 1024 * 1024 };

type Step<I> = { kind: 'input'; step: IteratorResult<I> } | { kind: 'input-failed'; reason: unknown } | { kind: 'head' } | { kind: 'stop' };

/**
 * Pipelines a stream: `start` is called for each input in order as soon as it
 * is read, while the results are yielded strictly in input order. Input is
 * read only while fewer than `maxRequests` results and `maxBytes` are
 * pending, so a fast writer is held back by transport flow control, not
 * buffered. A failing input (a cancelled call, a refused request) is raised
 * after the results of everything read before it; a rejected result is raised
 * in its place, after the results before it. When `stop` aborts (the server
 * drains), reading stops and, once the results of what was read are yielded,
 * the generator returns `'stopped'` instead of `'ended'`.
 */
export async function* inOrder<I, O>(
  input: AsyncIterable<I>,
  start: (item: I) => Promise<O>,
  sizeOf: (item: I) => number,
  bounds: ReadAheadBounds,
  stop: AbortSignal,
): AsyncGenerator<O, 'ended' | 'stopped'> {
  const iterator = input[Symbol.asyncIterator]();
  // Only the read in progress listens for the stop: racing a long-lived promise
  // would leave one reaction on it per request for the life of the stream.
  let stopWaiting: (() => void) | undefined;
  const onStop = () => stopWaiting?.();
  stop.addEventListener('abort', onStop, { once: true });
  let wasStopped = false;
  const pending: { result: Promise<O>; bytes: number }[] = [];
  let pendingBytes = 0;
  let reading: Promise<Step<I>> | undefined;
  let inputEnded = false;
  let inputFailure: { reason: unknown } | undefined;
  const hasRoom = () => pending.length === 0 || (pending.length < bounds.maxRequests && pendingBytes < bounds.maxBytes);
  try {
    for (;;) {
      while (!inputEnded && !wasStopped && hasRoom()) {
        reading ??= new Promise<Step<I>>((resolve) => {
          if (stop.aborted) return resolve({ kind: 'stop' });
          stopWaiting = () => resolve({ kind: 'stop' });
          iterator.next().then(
            (step) => resolve({ kind: 'input', step }),
            (reason: unknown) => resolve({ kind: 'input-failed', reason }),
          );
        });
        const head = pending[0];
        // With answers waiting, a slow reader must not hold them back.
        const next = head ? await Promise.race([reading, head.result.then(headSettled, headSettled)]) : await reading;
        if (next.kind === 'head') break;
        if (next.kind === 'stop') {
          wasStopped = true;
          break;
        }
        reading = undefined;
        if (next.kind === 'input-failed') {
          inputEnded = true;
          inputFailure = { reason: next.reason };
        } else if (next.step.done === true) {
          inputEnded = true;
        } else {
          const bytes = sizeOf(next.step.value);
          const result = start(next.step.value);
          // Awaited in order below; this only keeps an early rejection from counting as unhandled.
          result.catch(() => {});
          pending.push({ result, bytes });
          pendingBytes += bytes;
        }
      }
      const head = pending.shift();
      if (head === undefined) break;
      pendingBytes -= head.bytes;
      yield await head.result;
    }
    if (inputFailure) throw inputFailure.reason;
    return wasStopped ? 'stopped' : 'ended';
  } finally {
    stop.removeEventListener('abort', onStop);
    // Not awaited: with a read still pending, return() would wait for the client's next request.
    if (!inputEnded) iterator.return?.().catch(() => {});
  }
}

const headSettled = (): { kind: 'head' } => ({ kind: 'head' });
