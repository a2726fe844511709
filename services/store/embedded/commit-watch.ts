import { StoreClosedError } from '../store.js';

export interface CommitWatchOptions {
  /** Reads a subject's committed last sequence from the database. */
  readLast(subject: string): bigint;
  /** How often a subject with waiters is re-read while nothing is notified. */
  pollIntervalMs: number;
}

/** Waits for commits; see {@link createCommitWatch}. */
export interface CommitWatch {
  /** Called by this process's commits: wakes the subject's waiters at once. */
  notify(subject: string): void;
  wait(subject: string, afterSequence: bigint, timeoutMs: number, signal?: AbortSignal): Promise<bigint>;
  /** Rejects every waiter with {@link StoreClosedError} and stops polling. */
  close(): void;
}

/**
 * Commit notification for one SQLite file. Commits made through this store
 * instance wake waiters instantly (ingress and egress share one instance under
 * `npm start`). Another process writing the same file cannot signal this one,
 * so while a subject has waiters one shared timer per subject re-reads its last
 * sequence every `pollIntervalMs`: cross-process commits are seen within that
 * bound, and the cost grows with the watched subjects, not with the waiters.
 */
export function createCommitWatch(options: CommitWatchOptions): CommitWatch {
  const { readLast, pollIntervalMs } = options;
  // A map, not an EventEmitter: subjects are client strings and may be named "error".
  const watched = new Map<string, { waiters: Set<Waiter>; timer: NodeJS.Timeout }>();
  let closed = false;

  const wake = (subject: string): void => {
    const entry = watched.get(subject);
    if (!entry) return;
    let last: bigint;
    try {
      last = readLast(subject);
    } catch {
      // Waiters keep waiting; the read at their timeout reports a lasting failure.
      return;
    }
    for (const waiter of [...entry.waiters]) waiter.offer(last);
  };

  const watch = (subject: string, waiter: Waiter): void => {
    let entry = watched.get(subject);
    if (!entry) {
      const timer = setInterval(() => wake(subject), pollIntervalMs);
      timer.unref();
      entry = { waiters: new Set(), timer };
      watched.set(subject, entry);
    }
    entry.waiters.add(waiter);
  };

  const unwatch = (subject: string, waiter: Waiter): void => {
    const entry = watched.get(subject);
    if (!entry?.waiters.delete(waiter) || entry.waiters.size > 0) return;
    clearInterval(entry.timer);
    watched.delete(subject);
  };

  return {
    notify: wake,

    wait(subject, afterSequence, timeoutMs, signal) {
      if (closed) return Promise.reject(new StoreClosedError('the metadata store is closed'));
      signal?.throwIfAborted();
      const current = readLast(subject);
      if (current > afterSequence || timeoutMs <= 0) return Promise.resolve(current);
      return new Promise<bigint>((resolve, reject) => {
        const finish = (settle: () => void): void => {
          clearTimeout(timeout);
          signal?.removeEventListener('abort', onAbort);
          unwatch(subject, waiter);
          settle();
        };
        const waiter: Waiter = {
          offer: (last) => {
            if (last > afterSequence) finish(() => resolve(last));
          },
          close: () => finish(() => reject(new StoreClosedError('the metadata store is closed'))),
        };
        const onTimeout = (): void => {
          try {
            const last = readLast(subject);
            finish(() => resolve(last));
          } catch (error) {
            finish(() => reject(error));
          }
        };
        const onAbort = (): void => finish(() => reject(signal?.reason));
        // setTimeout fires at once for delays past 2^31 - 1 ms; clamp instead.
        const timeout = setTimeout(onTimeout, Math.min(timeoutMs, 2 ** 31 - 1));
        signal?.addEventListener('abort', onAbort, { once: true });
        watch(subject, waiter);
      });
    },

    close() {
      closed = true;
      for (const { waiters } of [...watched.values()]) {
        for (const waiter of [...waiters]) waiter.close();
      }
    },
  };
}

interface Waiter {
  offer(last: bigint): void;
  close(): void;
}
