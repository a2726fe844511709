import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Database } from 'better-sqlite3';
import { mostSpecific } from '../retention-pattern.js';
import { expires, expiresAnything } from '../retention-rules.js';
import type { RetentionPolicy } from '../store.js';
import { objectReleaser } from './sqlite-object-refs.js';

/** Rows one expiry transaction deletes at most; commits interleave between batches. */
const batchSize = 100;

export interface VictimRow {
  sequence: bigint;
  timestamp_ms: bigint;
  size: bigint;
  object_key: string;
}

/** Whether a row is to be deleted, given the count and bytes the subject holds before deleting it. */
export type Doomed = (row: VictimRow, count: bigint, bytes: bigint) => boolean;

/**
 * Deletes in one transaction up to {@link batchSize} of a subject's oldest
 * rows while `doomed` holds, and returns how many: the subject's counters
 * follow, the counter `reason` counts them and the rows' object keys no
 * other message names are queued in deleted_objects, together.
 */
export type DeleteOldest = (subject: string, doomed: Doomed, reason: DeleteReason) => number;

/** The store-wide counter a deletion adds to. */
export type DeleteReason = 'expired' | 'purged';

export function oldestDeleter(db: Database): DeleteOldest {
  const statements = {
    counters: db.prepare<[string], { message_count: bigint; bytes: bigint }>('SELECT message_count, bytes FROM subjects WHERE name = ?'),
    oldest: db.prepare<[string, number], VictimRow>(
      'SELECT sequence, timestamp_ms, size, object_key FROM messages WHERE subject = ? ORDER BY sequence LIMIT ?',
    ),
    deleteThrough: db.prepare<[string, bigint]>('DELETE FROM messages WHERE subject = ? AND sequence <= ?'),
    count: db.prepare<[string, number]>(
      'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value',
    ),
    lowerCounters: db.prepare<[number, bigint, string]>(
      'UPDATE subjects SET message_count = message_count - ?, bytes = bytes - ? WHERE name = ?',
    ),
  };
  const releaseObject = objectReleaser(db);
  const deleteBatch = db.transaction((subject: string, doomed: Doomed, reason: DeleteReason): number => {
    const counters = statements.counters.get(subject);
    if (!counters) return 0;
    let { message_count: count, bytes } = counters;
    const victims: VictimRow[] = [];
    for (const row of statements.oldest.all(subject, batchSize)) {
      if (!doomed(row, count, bytes)) break;
      victims.push(row);
      count -= 1n;
      bytes -= row.size;
    }
    const last = victims.at(-1);
    if (!last) return 0;
    // The victims are the subject's oldest rows, so they are exactly those up to the last one.
    statements.deleteThrough.run(subject, last.sequence);
    for (const { object_key: key } of victims) releaseObject(key);
    statements.lowerCounters.run(victims.length, counters.bytes - bytes, subject);
    statements.count.run(reason, victims.length);
    return victims.length;
  });
  return (subject, doomed, reason) => deleteBatch.immediate(subject, doomed, reason);
}

/** Deletes the subject's oldest rows while `doomed` holds, a batch per transaction, yielding between batches. */
export async function deleteOldestWhile(
  deleteOldest: DeleteOldest,
  subject: string,
  doomed: Doomed,
  reason: DeleteReason,
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const batch = deleteOldest(subject, doomed, reason);
    deleted += batch;
    if (batch < batchSize) return deleted;
    await nextTurn();
  }
}

export interface SqliteExpiry {
  /** Runs a pass soon (a policy changed). */
  wake(): void;
  /** Stops the timer and waits for a running pass. */
  stop(): Promise<void>;
}

/**
 * The embedded store's expiry worker: every `intervalMs` (and on {@link
 * SqliteExpiry.wake}) it deletes, subject by subject, the oldest messages
 * its policy expires through `deleteOldest`, giving the event
 * loop a turn between transactions so publishes never wait for a whole pass.
 */
export function startSqliteExpiry(
  db: Database,
  deleteOldest: DeleteOldest,
  policies: () => RetentionPolicy[],
  intervalMs: number,
  onError: (error: unknown) => void,
): SqliteExpiry {
  const subjects = db.prepare<[], string>('SELECT name FROM subjects ORDER BY name').pluck();
  // Under interest retention, what every durable consumer acknowledged, legacy and configured alike; 0 while the subject has none.
  const ackedByAll = db
    .prepare<{ subject: string }, bigint>(
      `SELECT coalesce(min(ack_floor), 0) FROM
         (SELECT ack_floor FROM consumers WHERE subject = :subject UNION ALL SELECT ack_floor FROM consumer_positions WHERE subject = :subject)`,
    )
    .pluck();

  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;

  const pass = async (): Promise<void> => {
    const byPattern = new Map(policies().map((policy) => [policy.pattern, policy]));
    if (![...byPattern.values()].some(expiresAnything)) return;
    for (const subject of subjects.all()) {
      if (stopped) return;
      const policy = byPattern.get(mostSpecific([...byPattern.keys()], subject) ?? '');
      if (policy === undefined || !expiresAnything(policy)) continue;
      const nowMs = Date.now();
      const acked = policy.retention === 'interest' ? ackedByAll.get({ subject })! : 0n;
      const doomed: Doomed = (victim, count, bytes) =>
        expires(policy, nowMs, { sequence: victim.sequence, timestampMs: Number(victim.timestamp_ms) }, count, bytes, acked);
      await deleteOldestWhile(deleteOldest, subject, doomed, 'expired');
      await nextTurn();
    }
  };

  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (again && !stopped) {
          again = false;
          run();
        }
      });
  };

  const timer = setInterval(run, intervalMs);
  timer.unref();

  return {
    wake: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
