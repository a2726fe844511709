import { PayloadBudgetExceededError } from './store.js';

/** Gives back what {@link PayloadBudget.acquire} reserved; calling it again does nothing. */
export type Release = () => void;

/**
 * A per-process bound on payload bytes in flight (publish bodies being read,
 * uploaded and committed; fetched payloads on their way out), so concurrent
 * large messages wait for each other instead of exhausting memory.
 */
export interface PayloadBudget {
  /** Bytes reserved now. */
  readonly inFlightBytes: number;
  /**
   * Reserves `bytes`, waiting up to the budget's wait time for others to
   * release; then throws {@link PayloadBudgetExceededError}. A reservation
   * larger than the whole budget is admitted when nothing else is in flight,
   * so it runs alone instead of never. Rejects with the signal's reason on abort.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<Release>;
}

export interface PayloadBudgetOptions {
  maxBytes: number;
  /** How long a reservation waits for room before it is refused. */
  waitMs: number;
  /** Names the limit in the refusal, e.g. the configuration variable. */
  limitName?: string;
}

/** A {@link PayloadBudget}: waiters are admitted whenever they fit, smaller ones first if only they fit. */
export function createPayloadBudget(options: PayloadBudgetOptions): PayloadBudget {
  const { maxBytes, waitMs, limitName = 'the payload budget' } = options;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError('maxBytes must be an integer >= 1');
  if (!Number.isInteger(waitMs) || waitMs < 0) throw new RangeError('waitMs must be an integer >= 0');
  let inFlight = 0;
  const waiters = new Set<{ bytes: number; admit: () => void }>();

  const fits = (bytes: number) => inFlight === 0 || inFlight + bytes <= maxBytes;
  const reserve = (bytes: number): Release => {
    inFlight += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      inFlight -= bytes;
      for (const waiter of waiters) if (fits(waiter.bytes)) waiter.admit();
    };
  };

  return {
    get inFlightBytes() {
      return inFlight;
    },

    acquire(bytes, signal) {
      signal?.throwIfAborted();
      if (fits(bytes)) return Promise.resolve(reserve(bytes));
      return new Promise<Release>((resolve, reject) => {
        const settle = (outcome: () => void) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          waiters.delete(waiter);
          outcome();
        };
        const waiter = { bytes, admit: () => settle(() => resolve(reserve(bytes))) };
        const onAbort = () => settle(() => reject(signal!.reason));
        const timer = setTimeout(
          () =>
            settle(() =>
              reject(
                new PayloadBudgetExceededError(
                  `${bytes} payload bytes waited ${waitMs} ms for room: ${inFlight} of ${maxBytes} bytes (${limitName}) are in flight; retry later`,
                ),
              ),
            ),
          waitMs,
        );
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(waiter);
      });
    },
  };
}
