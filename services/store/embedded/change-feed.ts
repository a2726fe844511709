import { randomUUID } from 'node:crypto';
import { StoreClosedError, type ChangeBatch, type StoreChange } from '../store.js';

export interface ChangeFeedOptions {
  /** Whether another connection committed to the database since the last call. */
  writtenElsewhere(): boolean;
  /** How often that is checked while anyone waits. */
  pollIntervalMs: number;
  /** Changes kept for callers that are behind (default 16384). */
  capacity?: number;
}

/** The embedded store's change feed; see {@link createChangeFeed}. */
export interface ChangeFeed {
  /** Called by this process's commits and acks: wakes every waiter at once. */
  append(changes: StoreChange[]): void;
  wait(cursor: string, timeoutMs: number, signal?: AbortSignal): Promise<ChangeBatch>;
  /** Rejects every waiter with {@link StoreClosedError} and stops polling. */
  close(): void;
}

// A change some other process made: the feed cannot say what it was.
const unknown = null;

/**
 * The change feed of one SQLite store instance, in memory. Commits and acks
 * made through this instance are appended and wake waiters instantly (ingress
 * and egress share one instance under `npm start`). Another process writing
 * the same file cannot signal this one, so while anyone waits one timer asks
 * SQLite whether another connection wrote (`PRAGMA data_version`); if so it
 * appends an unknown change, which answers `resync`. The cursor carries an
 * epoch of this instance, so a cursor of an earlier instance resyncs too.
 */
export function createChangeFeed({ writtenElsewhere, pollIntervalMs, capacity = 16_384 }: ChangeFeedOptions): ChangeFeed {
  const epoch = randomUUID();
  const ring: (StoreChange | typeof unknown)[] = new Array(capacity);
  let version = 0;
  const waiters = new Set<() => void>();
  let poll: NodeJS.Timeout | undefined;
  let closed = false;

  const cursorAt = (at: number) => `${epoch}:${at}`;
  const push = (change: StoreChange | typeof unknown) => {
    version++;
    ring[version % capacity] = change;
  };
  const wakeAll = () => [...waiters].forEach((wake) => wake());

  /** What followed `after`, or resync when the ring no longer holds it all or holds an unknown change. */
  const answer = (after: number): ChangeBatch => {
    if (after < version - capacity) return { cursor: cursorAt(version), changes: 'resync' };
    const changes: StoreChange[] = [];
    for (let at = after + 1; at <= version; at++) {
      const change = ring[at % capacity];
      if (change === unknown || change === undefined) return { cursor: cursorAt(version), changes: 'resync' };
      changes.push(change);
    }
    return { cursor: cursorAt(version), changes };
  };

  const checkElsewhere = () => {
    try {
      if (!writtenElsewhere()) return;
    } catch {
      // The database is unreadable right now: waiters are resynced, and their re-read reports it.
    }
    push(unknown);
    wakeAll();
  };

  const watching = (waiting: boolean) => {
    if (waiting && !poll) {
      poll = setInterval(checkElsewhere, pollIntervalMs);
      poll.unref();
    } else if (!waiting && poll) {
      clearInterval(poll);
      poll = undefined;
    }
  };

  return {
    append(changes) {
      if (changes.length === 0) return;
      changes.forEach(push);
      wakeAll();
    },

    wait(cursor, timeoutMs, signal) {
      if (closed) return Promise.reject(new StoreClosedError('the metadata store is closed'));
      signal?.throwIfAborted();
      const [cursorEpoch, at] = cursor.split(':');
      const after = Number(at);
      if (cursorEpoch !== epoch || !Number.isSafeInteger(after) || after > version) {
        return Promise.resolve({ cursor: cursorAt(version), changes: 'resync' });
      }
      if (after < version || timeoutMs <= 0) return Promise.resolve(answer(after));
      return new Promise<ChangeBatch>((resolve, reject) => {
        const finish = (settle: () => void): void => {
          clearTimeout(timeout);
          signal?.removeEventListener('abort', onAbort);
          waiters.delete(wake);
          watching(waiters.size > 0);
          settle();
        };
        const wake = () => finish(() => (closed ? reject(new StoreClosedError('the metadata store is closed')) : resolve(answer(after))));
        const onAbort = (): void => finish(() => reject(signal?.reason));
        // setTimeout fires at once for delays past 2^31 - 1 ms; clamp instead.
        const timeout = setTimeout(wake, Math.min(timeoutMs, 2 ** 31 - 1));
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(wake);
        watching(true);
      });
    },

    close() {
      closed = true;
      wakeAll();
      watching(false);
    },
  };
}
