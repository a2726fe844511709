import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import {
  StoreClosedError,
  type CarriedRows,
  type CarryRequest,
  type MessageStore,
  type MetadataRow,
  type ReadLimits,
  type StoreChange,
} from '../store/store.js';

export interface SubjectWatch {
  /** Watches `subject` (and, with `durable`, that consumer's ack floor) until closed. */
  watch(subject: string, durable?: string): Watch;
  /**
   * Watches a configured consumer until closed: changes of its leases, and
   * commits of every subject `matches` accepts, whether known yet or not.
   */
  watchConsumer(durable: string, matches: (subject: string) => boolean): ConsumerWatch;
  /**
   * Yields the subject's last sequence whenever it passes the last value
   * yielded, starting after `afterSequence`: at once if the subject is
   * already ahead, then on each commit. Values are coalesced, so a slow
   * reader only ever holds the latest. Ends when `signal` aborts.
   */
  follow(subject: string, afterSequence: bigint, signal: AbortSignal): AsyncGenerator<bigint>;
  /** Subjects watched now. */
  readonly watchedSubjects: number;
  /** Consume streams of the configured consumer open in this process (ConsumerInfo's `waiting`). */
  consumerStreams(durable: string): number;
}

/** What a stream waits on: the changes its watch reports. */
interface Waiting {
  /** True once after the feed resynced: what the stream read from the store may have moved unseen, so read it again. */
  takeResync(): boolean;
  /**
   * Resolves true at the next change the watch reports (at once if one came
   * since the last call), false after `timeoutMs` or when `signal` aborts.
   * Never rejects.
   */
  changed(signal: AbortSignal, timeoutMs?: number): Promise<boolean>;
  close(): void;
}

/** One stream's view of a subject: its commits and the durable's ack floor. */
export interface Watch extends Waiting {
  /** The subject's last sequence; undefined until first read. */
  readonly lastSequence: bigint | undefined;
  /** The highest ack floor of the watch's durable the feed reported since the watch began; 0n if none. */
  readonly ackFloor: bigint;
  /**
   * The messages after `after` that the feed carried, as the store would read
   * them now, within `limits` (the first always): undefined unless the
   * carried messages held here go on from `after`, so the caller reads the store.
   */
  carried(after: bigint, limits: ReadLimits): MetadataRow[] | undefined;
}

/** One Consume stream of a configured consumer: its lease changes and commits of matching subjects. */
export interface ConsumerWatch extends Waiting {
  /** Matching subjects with commits since the last call, known ones included: the stream keeps what is new to it. */
  takeCommitted(): string[];
}

export interface SubjectWatchOptions {
  store: Pick<MessageStore, 'lastSequences' | 'waitForChanges'>;
  logger: Logger;
  /** How long one waiting store call lasts before it is renewed. */
  waitTimeoutMs?: number;
  /** Pause before retrying after a store failure. */
  retryDelayMs?: number;
  /** Subjects read per store call when they join or after a resync. */
  readBatch?: number;
  /** Payload bytes of inline messages a feed answer may carry for Consume streams (0: none); see MessageStore.waitForChanges. */
  carryBytes?: number;
  /** Carried payload bytes held for Consume streams in all; the oldest subjects' go first beyond it. */
  carriedBytesMax?: number;
  /** Ends the waiting (the service is draining). */
  signal?: AbortSignal;
}

interface WakeState {
  resynced: boolean;
  dirty: boolean;
  wake: (() => void) | undefined;
}

interface WatchState extends WakeState {
  durable: string | undefined;
  ackFloor: bigint;
}

interface ConsumerWatchState extends WakeState {
  durable: string;
  matches: (subject: string) => boolean;
  committed: Set<string>;
}

interface Entry {
  last: bigint | undefined;
  watches: Set<WatchState>;
  /** Watches with a durable (Consume streams): only they use carried messages. */
  consumers: number;
  /** Messages the feed carried, gapless as the store holds them after `after`. */
  carried: (CarriedRows & { bytes: number }) | undefined;
}

/** Feed answers carry up to this many inline payload bytes for Consume, by default. */
export const feedCarryBytes = 32 * 1024;
/**
 * Up to this many subjects with Consume streams are named in the waiting call,
 * so commits of other subjects carry nothing; beyond it every subject's may.
 */
export const carrySubjectsMax = 64;
/** Carried payload bytes one egress holds for Consume streams, by default. */
export const carriedBytesMaxDefault = 4 * 1024 * 1024;

/**
 * Every stream of this process is woken through ONE waiting store call, the
 * store's change feed, whatever the number of subjects: a commit reaches its
 * streams in one round trip, and the store holds one request per process.
 * A subject's last sequence is read once when it is first watched (batched
 * with the other newcomers) and then kept up to date from the feed; after a
 * resync every watched subject is read again, `readBatch` at a time.
 */
export function createSubjectWatch(options: SubjectWatchOptions): SubjectWatch {
  const { store, logger, waitTimeoutMs = 20_000, retryDelayMs = 1000, readBatch = 1000, signal } = options;
  const { carryBytes = feedCarryBytes, carriedBytesMax = carriedBytesMaxDefault } = options;
  const entries = new Map<string, Entry>();
  // Entries holding carried messages, least recently extended first, and their bytes in all.
  const carrying = new Set<Entry>();
  let carriedBytes = 0;
  // Subjects with Consume streams: the feed carries messages of these only.
  const consumed = new Set<string>();
  const carryRequest = (): CarryRequest | undefined => {
    if (carryBytes <= 0 || consumed.size === 0) return undefined;
    return { bytes: carryBytes, ...(consumed.size <= carrySubjectsMax ? { subjects: [...consumed] } : {}) };
  };
  const consumerWatches = new Set<ConsumerWatchState>();
  // Subjects whose last sequence must be read; only once the feed has a cursor, so no commit falls between.
  const unread = new Set<string>();
  let cursor = '';
  let waiting = false;
  let reading = false;

  const notify = (watch: WakeState) => {
    watch.dirty = true;
    watch.wake?.();
  };

  const raiseLast = (subject: string, last: bigint) => {
    const entry = entries.get(subject);
    if (!entry || (entry.last !== undefined && entry.last >= last)) return;
    entry.last = last;
    entry.watches.forEach(notify);
  };

  const dropCarried = (entry: Entry) => {
    if (entry.carried === undefined) return;
    carriedBytes -= entry.carried.bytes;
    entry.carried = undefined;
    carrying.delete(entry);
  };

  // A run that goes on from the one held is appended; any other replaces it.
  const keepCarried = (subject: string, { after, rows }: CarriedRows) => {
    const entry = entries.get(subject);
    if (!entry || entry.consumers === 0 || rows.length === 0) return;
    const bytes = rows.reduce((sum, row) => sum + row.size, 0);
    const held = entry.carried;
    if (held !== undefined && lastCarried(held) === after) {
      held.rows.push(...rows);
      held.bytes += bytes;
    } else {
      dropCarried(entry);
      entry.carried = { after, rows, bytes };
    }
    carriedBytes += bytes;
    carrying.delete(entry);
    carrying.add(entry);
    for (const oldest of carrying) {
      if (carriedBytes <= carriedBytesMax) break;
      dropCarried(oldest);
    }
  };

  const commitSeen = (subject: string) => {
    for (const watch of consumerWatches) {
      if (!watch.matches(subject)) continue;
      watch.committed.add(subject);
      notify(watch);
    }
  };

  const apply = (change: StoreChange) => {
    if ('consumer' in change) {
      for (const watch of consumerWatches) if (watch.durable === change.consumer) notify(watch);
      return;
    }
    if (!('durable' in change)) {
      if (change.carried !== undefined) keepCarried(change.subject, change.carried);
      commitSeen(change.subject);
      return raiseLast(change.subject, change.lastSequence);
    }
    for (const watch of entries.get(change.subject)?.watches ?? []) {
      if (watch.durable !== change.durable || watch.ackFloor >= change.ackFloor) continue;
      watch.ackFloor = change.ackFloor;
      notify(watch);
    }
  };

  const retryLater = async (error: unknown, what: string): Promise<boolean> => {
    if (error instanceof StoreClosedError || signal?.aborted) return false;
    logger.warn({ err: error }, `${what} failed; retrying`);
    await sleep(retryDelayMs, undefined, { signal }).catch(() => undefined);
    return !signal?.aborted;
  };

  const readUnread = async () => {
    if (reading || cursor === '') return;
    reading = true;
    while (unread.size > 0) {
      const subjects = [...unread].slice(0, readBatch);
      subjects.forEach((subject) => unread.delete(subject));
      try {
        const lasts = await store.lastSequences(subjects, signal);
        subjects.forEach((subject, index) => raiseLast(subject, lasts[index]!));
      } catch (error) {
        subjects.filter((subject) => entries.has(subject)).forEach((subject) => unread.add(subject));
        if (!(await retryLater(error, 'reading last sequences'))) break;
      }
    }
    reading = false;
  };

  const markResynced = (watch: WakeState) => {
    watch.resynced = true;
    notify(watch);
  };

  const resync = () => {
    for (const [subject, entry] of entries) {
      dropCarried(entry);
      unread.add(subject);
      entry.watches.forEach(markResynced);
    }
    consumerWatches.forEach(markResynced);
    void readUnread();
  };

  // Runs while anything is watched; a wait in flight is left to return rather than aborted.
  const runFeed = async () => {
    waiting = true;
    while ((entries.size > 0 || consumerWatches.size > 0) && !signal?.aborted) {
      try {
        const batch = await store.waitForChanges(cursor, waitTimeoutMs, signal, carryRequest());
        cursor = batch.cursor;
        if (batch.changes === 'resync') resync();
        else batch.changes.forEach(apply);
      } catch (error) {
        if (!(await retryLater(error, 'waiting for changes'))) break;
      }
    }
    waiting = false;
  };

  const watch = (subject: string, durable?: string): Watch => {
    let entry = entries.get(subject);
    if (!entry) {
      entry = { last: undefined, watches: new Set(), consumers: 0, carried: undefined };
      entries.set(subject, entry);
      unread.add(subject);
      // Newcomers of one turn are read in one call.
      queueMicrotask(() => void readUnread());
    }
    if (!waiting) void runFeed();
    const joined = entry;
    const state: WatchState = { durable, ackFloor: 0n, resynced: false, dirty: false, wake: undefined };
    joined.watches.add(state);
    if (durable !== undefined && joined.consumers++ === 0) consumed.add(subject);
    return {
      ...waitingOn(state, () => {
        if (!joined.watches.delete(state)) return;
        if (durable !== undefined && --joined.consumers === 0) {
          dropCarried(joined);
          consumed.delete(subject);
        }
        if (joined.watches.size > 0 || entries.get(subject) !== joined) return;
        entries.delete(subject);
        unread.delete(subject);
      }),
      carried: (after, limits) => (joined.carried === undefined ? undefined : carriedAfter(joined.carried, after, limits)),
      get lastSequence() {
        return joined.last;
      },
      get ackFloor() {
        return state.ackFloor;
      },
    };
  };

  const watchConsumer = (durable: string, matches: (subject: string) => boolean): ConsumerWatch => {
    const state: ConsumerWatchState = { durable, matches, committed: new Set(), resynced: false, dirty: false, wake: undefined };
    consumerWatches.add(state);
    if (!waiting) void runFeed();
    return {
      ...waitingOn(state, () => consumerWatches.delete(state)),
      takeCommitted() {
        const subjects = [...state.committed];
        state.committed.clear();
        return subjects;
      },
    };
  };

  return {
    watch,
    watchConsumer,
    async *follow(subject, afterSequence, until) {
      const watched = watch(subject);
      try {
        let delivered = afterSequence;
        while (!until.aborted) {
          const last = watched.lastSequence;
          if (last !== undefined && last > delivered) {
            delivered = last;
            yield last;
            continue;
          }
          await watched.changed(until);
        }
      } finally {
        watched.close();
      }
    },
    get watchedSubjects() {
      return entries.size;
    },
    consumerStreams(durable) {
      return [...consumerWatches].filter((watch) => watch.durable === durable).length;
    },
  };
}

function lastCarried(run: CarriedRows): bigint {
  return run.rows[run.rows.length - 1]?.sequence ?? run.after;
}

/** The rows of `run` after `after` within `limits`, if `run` holds what follows `after`. */
function carriedAfter(run: CarriedRows, after: bigint, limits: ReadLimits): MetadataRow[] | undefined {
  if (after < run.after || after >= lastCarried(run)) return undefined;
  // Consumers keep up near the end of the run: look for `after` from there.
  let start = run.rows.length;
  while (start > 0 && run.rows[start - 1]!.sequence > after) start--;
  const taken: MetadataRow[] = [];
  let bytes = 0;
  for (; start < run.rows.length && taken.length < limits.maxMessages; start++) {
    const row = run.rows[start]!;
    if (taken.length > 0 && bytes + row.size > limits.maxBytes) break;
    bytes += row.size;
    taken.push(row);
  }
  return taken;
}

/** The waiting half of a watch over `state`; `leave` forgets the watch. */
function waitingOn(state: WakeState, leave: () => void): Waiting {
  return {
    takeResync() {
      const resynced = state.resynced;
      state.resynced = false;
      return resynced;
    },
    changed(until, timeoutMs) {
      if (state.dirty || until.aborted) {
        const dirty = state.dirty;
        state.dirty = false;
        return Promise.resolve(dirty);
      }
      return new Promise<boolean>((resolve) => {
        const finish = (changed: boolean) => {
          clearTimeout(timer);
          until.removeEventListener('abort', onAbort);
          state.wake = undefined;
          state.dirty = false;
          resolve(changed);
        };
        const onAbort = () => finish(false);
        const timer = timeoutMs === undefined ? undefined : setTimeout(() => finish(false), timeoutMs);
        until.addEventListener('abort', onAbort, { once: true });
        state.wake = () => finish(true);
      });
    },
    close() {
      leave();
      state.wake?.();
    },
  };
}
