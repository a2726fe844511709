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
  /** Subjects with a waiting store call: followed now, or until their call returns. */
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
}

/**
 * One waiting store call per watched subject, shared by every stream that
 * follows it: the cost grows with subjects, never with open streams, and a
 * commit wakes all of them at once (no polling interval).
 *
 * A watcher whose last follower left is retired when its current call
 * returns, not by aborting it: an aborted call only stops waiting here, while
 * Tarantool goes on holding the request (one of its limited request slots)
 * until the wait times out. Retiring late keeps it to one call per subject
 * however often subscribers come and go, and a returning one reuses it.
 */
export function createSubjectWatch({ store, logger, waitTimeoutMs = 20_000, retryDelayMs = 1000 }: SubjectWatchOptions): SubjectWatch {
  const watchers = new Map<string, Watcher>();

  const run = async (subject: string, watcher: Watcher) => {
    for (;;) {
      try {
        watcher.last =
          watcher.last === undefined ? await store.lastSequence(subject) : await store.waitForCommit(subject, watcher.last, waitTimeoutMs);
        watcher.wakers.forEach((wake) => wake());
      } catch (error) {
        if (watcher.wakers.size === 0) break;
        logger.warn({ err: error }, 'waiting for commits failed; retrying');
        await sleep(retryDelayMs);
      }
      // Decided and done in one turn, so a follower joining now finds no retired watcher.
      if (watcher.wakers.size === 0) break;
    }
    watchers.delete(subject);
  };

  const join = (subject: string): Watcher => {
    let watcher = watchers.get(subject);
    if (!watcher) {
      const created: Watcher = { last: undefined, wakers: new Set() };
      watchers.set(subject, created);
      void run(subject, created);
      watcher = created;
    }
    return watcher;
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
        watcher.wakers.delete(wake);
      }
    },
    get watchedSubjects() {
      return watchers.size;
    },
  };
}
