import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { MessageStore } from '../store/store.js';

export interface SubjectWatch {
  /**
   * Yields the subject's last sequence whenever it passes the last value
   * yielded, starting after `afterSequence`: at once if the subject is
   * already ahead, then on each commit. Values are coalesced, so a slow
   * reader only ever holds the latest. Ends when `signal` aborts.
   */
  follow(subject: string, afterSequence: bigint, signal: AbortSignal): AsyncGenerator<bigint>;
  /** Subjects with at least one follower. */
  readonly watchedSubjects: number;
}

export interface SubjectWatchOptions {
  store: Pick<MessageStore, 'lastSequence' | 'waitForCommit'>;
  logger: Logger;
  /** How long one waiting store call lasts before it is renewed. */
  waitTimeoutMs?: number;
  /** Pause before retrying after a store failure. */
  retryDelayMs?: number;
}

interface Watcher {
  last: bigint | undefined;
  wakers: Set<() => void>;
  stop: AbortController;
}

/**
 * One waiting store call per watched subject, shared by every stream that
 * follows it: the cost grows with subjects, never with open streams, and a
 * commit wakes all of them at once (no polling interval).
 */
export function createSubjectWatch({ store, logger, waitTimeoutMs = 20_000, retryDelayMs = 1000 }: SubjectWatchOptions): SubjectWatch {
  const watchers = new Map<string, Watcher>();

  const run = async (subject: string, watcher: Watcher) => {
    const signal = watcher.stop.signal;
    while (!signal.aborted) {
      try {
        watcher.last =
          watcher.last === undefined
            ? await store.lastSequence(subject, signal)
            : await store.waitForCommit(subject, watcher.last, waitTimeoutMs, signal);
        watcher.wakers.forEach((wake) => wake());
      } catch (error) {
        if (signal.aborted) return;
        logger.warn({ err: error }, 'waiting for commits failed; retrying');
        await sleep(retryDelayMs, undefined, { signal }).catch(() => {});
      }
    }
  };

  const join = (subject: string): Watcher => {
    let watcher = watchers.get(subject);
    if (!watcher) {
      const created: Watcher = { last: undefined, wakers: new Set(), stop: new AbortController() };
      watchers.set(subject, created);
      void run(subject, created);
      watcher = created;
    }
    return watcher;
  };

  const leave = (subject: string, watcher: Watcher, wake: () => void) => {
    watcher.wakers.delete(wake);
    if (watcher.wakers.size === 0) {
      watcher.stop.abort();
      watchers.delete(subject);
    }
  };

  return {
    async *follow(subject, afterSequence, signal) {
      const watcher = join(subject);
      let pending: (() => void) | undefined;
      const wake = () => {
        pending?.();
        pending = undefined;
      };
      watcher.wakers.add(wake);
      signal.addEventListener('abort', wake);
      try {
        let delivered = afterSequence;
        while (!signal.aborted) {
          const last = watcher.last;
          if (last !== undefined && last > delivered) {
            delivered = last;
            yield last;
            continue;
          }
          await new Promise<void>((resolve) => {
            pending = resolve;
          });
        }
      } finally {
        signal.removeEventListener('abort', wake);
        leave(subject, watcher, wake);
      }
    },
    get watchedSubjects() {
      return watchers.size;
    },
  };
}
