/**
 * Runs `work` over `items` with at most `limit` calls in flight and yields the
 * results strictly in input order, starting the next call as soon as a result
 * is taken. When the consumer stops early, a call fails or `signal` aborts,
 * the calls still running are aborted through their signal and awaited before
 * the generator finishes, so no work outlives it and no rejection goes unhandled.
 */
export async function* mapOrdered<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, signal: AbortSignal) => Promise<R>,
  signal?: AbortSignal,
): AsyncGenerator<R> {
  const controller = new AbortController();
  const inner = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal;
  const running: Promise<R>[] = [];
  let next = 0;
  const fill = (): void => {
    while (next < items.length && running.length < Math.max(1, limit)) {
      const call = work(items[next++]!, inner);
      // Marks the rejection handled; the awaiting below still sees it.
      call.catch(() => undefined);
      running.push(call);
    }
  };
  try {
    fill();
    while (running.length > 0) {
      const result = await running.shift()!;
      signal?.throwIfAborted();
      fill();
      yield result;
    }
  } finally {
    // Only calls still running need stopping; an abort builds a DOMException with a stack, per read page.
    if (running.length > 0) controller.abort();
    await Promise.allSettled(running);
  }
}
