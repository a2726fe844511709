import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import {
  AckBeyondEndError,
  ExpectedLastSequenceError,
  RetentionLimitError,
  defaultDuplicateWindowMs,
  expectedLastSequenceHeader,
  msgIdHeader,
  type CommittedRecord,
  StoreClosedError,
  StoreError,
  StoreUnavailableError,
  UploadExpiredError,
  type ConsumerPosition,
  type FloorPage,
  type RetentionPolicy,
  type MetadataRecord,
  type MetadataStore,
  type SubjectStats,
} from '../store.js';
import { mostSpecific } from '../subject-pattern.js';
import { brokenLimit, policyFromColumns, type PolicyColumns } from '../retention-rules.js';
import { withCarried, type CommitFirsts } from './carried-changes.js';
import { createChangeFeed } from './change-feed.js';
import { deleteOldestWhile, oldestDeleter, startSqliteExpiry, type DeleteOldest } from './sqlite-expiry.js';
import type { DiskGuard } from './disk-guard.js';
import { sqliteConsumerStore } from './sqlite-consumers.js';
import { messageColumns, toMetadataRow, type MessageRowData } from './sqlite-rows.js';
import { migrate } from './sqlite-schema.js';
import { storageStatsReader } from './sqlite-storage-stats.js';
import { objectCounter } from './sqlite-object-refs.js';

export interface SqliteMetadataStoreOptions {
  /** Database file; its folder is created if missing. */
  file: string;
  /** How often a waiter checks the file for writes of another process (default 250 ms). */
  crossProcessPollMs?: number;
  /** How long a write waits for another process's write lock (default 5 s). */
  busyTimeoutMs?: number;
  /** How often the expiry worker applies the retention policy (default 1 s). */
  expiryIntervalMs?: number;
  /** Where a failed expiry pass is reported. */
  logger?: Logger | undefined;
  /** Refuses commits and new uploads while the disk is nearly full; none when absent. */
  diskGuard?: DiskGuard | undefined;
}

/** Expired msg-id entries one commit removes at least (more when it remembers many). */
const expiryBatchMin = 64;

interface SubjectRowData {
  name: string;
  message_count: bigint;
  bytes: bigint;
  first_sequence: bigint | null;
  last_sequence: bigint;
  last_publish_ms: bigint | null;
}

interface ConsumerRowData {
  durable: string;
  subject: string;
  ack_floor: bigint;
  last_sequence: bigint | null;
}

// The first sequence and last commit time are single index lookups on (subject, sequence).
const subjectColumns = `name, message_count, bytes,
  (SELECT min(sequence) FROM messages WHERE messages.subject = subjects.name) AS first_sequence,
  last_sequence,
  (SELECT timestamp_ms FROM messages WHERE messages.subject = subjects.name AND messages.sequence = subjects.last_sequence) AS last_publish_ms`;
const consumerColumns = `durable, subject, ack_floor,
  (SELECT last_sequence FROM subjects WHERE subjects.name = consumers.subject) AS last_sequence`;

/**
 * Opens a {@link MetadataStore} on one SQLite file (WAL, `synchronous=FULL`:
 * a commit that resolved survives a crash or power loss). better-sqlite3 is
 * synchronous, so each call runs to completion on the event loop; statements
 * are prepared once. Several processes may share the file: writes take the
 * write lock up front (`BEGIN IMMEDIATE`), and lock or I/O failures surface as
 * {@link StoreUnavailableError}.
 */
export async function openSqliteMetadataStore(options: SqliteMetadataStoreOptions): Promise<MetadataStore> {
  const { file, crossProcessPollMs = 250, busyTimeoutMs = 5000, expiryIntervalMs = 1000, logger, diskGuard } = options;
  if (!file) throw new TypeError('openSqliteMetadataStore: file is required');
  const db = sqlite(`open database ${file}`, () => {
    mkdirSync(dirname(file), { recursive: true });
    const opened = new Database(file, { timeout: busyTimeoutMs });
    try {
      opened.pragma('journal_mode = WAL');
      opened.pragma('synchronous = FULL');
      opened.defaultSafeIntegers(true);
      migrate(opened);
      return opened;
    } catch (error) {
      opened.close();
      throw error;
    }
  });

  const statements = {
    ping: db.prepare('SELECT 1'),
    lastSequence: db.prepare<[string], bigint>('SELECT last_sequence FROM subjects WHERE name = ?').pluck(),
    addToSubject: db.prepare<[string, bigint, number, number]>(
      `INSERT INTO subjects (name, last_sequence, message_count, bytes) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET last_sequence = max(subjects.last_sequence, excluded.last_sequence),
         message_count = subjects.message_count + excluded.message_count, bytes = subjects.bytes + excluded.bytes`,
    ),
    listSubjects: db.prepare<[], SubjectRowData>(`SELECT ${subjectColumns} FROM subjects ORDER BY name`),
    subject: db.prepare<[string], SubjectRowData>(`SELECT ${subjectColumns} FROM subjects WHERE name = ?`),
    listConsumers: db.prepare<[], ConsumerRowData>(`SELECT ${consumerColumns} FROM consumers ORDER BY durable, subject`),
    consumersOf: db.prepare<[string], ConsumerRowData>(
      `SELECT ${consumerColumns} FROM consumers WHERE subject = ? ORDER BY durable, subject`,
    ),
    consumer: db.prepare<[string, string], ConsumerRowData>(`SELECT ${consumerColumns} FROM consumers WHERE durable = ? AND subject = ?`),
    setAckFloor: db.prepare<[string, string, bigint]>(
      `INSERT INTO consumers (durable, subject, ack_floor) VALUES (?, ?, ?)
       ON CONFLICT (durable, subject) DO UPDATE SET ack_floor = excluded.ack_floor`,
    ),
    insertMessage: db.prepare<[string, bigint, number, string, number, Uint8Array | null, string]>(
      `INSERT INTO messages (subject, sequence, timestamp_ms, headers, size, inline, object_key)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    readAfter: db.prepare<[string, bigint, number], MessageRowData>(
      `SELECT ${messageColumns} FROM messages WHERE subject = ? AND sequence > ? ORDER BY sequence LIMIT ?`,
    ),
    ackFloor: db.prepare<[string, string], bigint>('SELECT ack_floor FROM consumers WHERE durable = ? AND subject = ?').pluck(),
    configured: db.prepare<[string], number>('SELECT 1 FROM consumer_configs WHERE durable = ?').pluck(),
    raiseAckFloor: db.prepare<[string, string, bigint]>(
      `INSERT INTO consumers (durable, subject, ack_floor) VALUES (?, ?, ?)
       ON CONFLICT (durable, subject) DO UPDATE SET ack_floor = excluded.ack_floor
       WHERE excluded.ack_floor > consumers.ack_floor`,
    ),
    claimOwner: db.prepare<[string, string, string]>(
      'INSERT INTO consumer_owners (durable, subject, owner) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    ownerOf: db.prepare<[string, string], string>('SELECT owner FROM consumer_owners WHERE durable = ? AND subject = ?').pluck(),
    addPending: db.prepare<[string, number]>(
      'INSERT INTO pending_uploads (object_key, created_at_ms) VALUES (?, ?) ON CONFLICT DO NOTHING',
    ),
    removePending: db.prepare<[string]>('DELETE FROM pending_uploads WHERE object_key = ?'),
    setPolicy: db.prepare<[string, number, number, number, number, string, string]>(
      `INSERT INTO retention_policies (pattern, max_age_ms, max_messages, max_bytes, max_message_bytes, discard, retention)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (pattern) DO UPDATE SET max_age_ms = excluded.max_age_ms, max_messages = excluded.max_messages,
         max_bytes = excluded.max_bytes, max_message_bytes = excluded.max_message_bytes, discard = excluded.discard,
         retention = excluded.retention`,
    ),
    policies: db.prepare<[], PolicyColumns>(
      'SELECT pattern, max_age_ms, max_messages, max_bytes, max_message_bytes, discard, retention FROM retention_policies ORDER BY pattern',
    ),
    deletePolicy: db.prepare<[string]>('DELETE FROM retention_policies WHERE pattern = ?'),
    counters: db.prepare<[string], { message_count: bigint; bytes: bigint }>('SELECT message_count, bytes FROM subjects WHERE name = ?'),
    deletedObjects: db.prepare<[number], string>('SELECT object_key FROM deleted_objects LIMIT ?').pluck(),
    forgetDeletedObject: db.prepare<[string]>('DELETE FROM deleted_objects WHERE object_key = ?'),
    msgIdSequence: db
      .prepare<[string, string, number], bigint>('SELECT sequence FROM msg_ids WHERE subject = ? AND msg_id = ? AND expires_at_ms > ?')
      .pluck(),
    rememberMsgId: db.prepare<[string, string, bigint, number]>(
      'INSERT OR REPLACE INTO msg_ids (subject, msg_id, sequence, expires_at_ms) VALUES (?, ?, ?, ?)',
    ),
    expireMsgIds: db.prepare<[number, number]>(
      `DELETE FROM msg_ids WHERE (subject, msg_id) IN
         (SELECT subject, msg_id FROM msg_ids WHERE expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?)`,
    ),
    stalePending: db
      .prepare<[number, number], string>('SELECT object_key FROM pending_uploads WHERE created_at_ms < ? ORDER BY created_at_ms LIMIT ?')
      .pluck(),
  };

  const lastSequenceOf = (subject: string): bigint => statements.lastSequence.get(subject) ?? 0n;
  const listPolicies = (): RetentionPolicy[] => statements.policies.all().map(policyFromColumns);
  const policyOf = (policies: RetentionPolicy[], subject: string): RetentionPolicy | undefined => {
    const pattern = mostSpecific(
      policies.map((policy) => policy.pattern),
      subject,
    );
    return policies.find((policy) => policy.pattern === pattern);
  };

  /**
   * A check that throws RetentionLimitError when the policy of a record's subject refuses it on top of
   * what the subject holds and the records admitted before it; only stored records are admitted.
   */
  const policyGate = (): ((record: MetadataRecord, index: number) => void) => {
    const policies = listPolicies();
    const held = new Map<string, { policy: RetentionPolicy | undefined; count: bigint; bytes: bigint }>();
    return (record, index) => {
      if (policies.length === 0) return;
      let subject = held.get(record.subject);
      if (!subject) {
        const counters = statements.counters.get(record.subject);
        subject = { policy: policyOf(policies, record.subject), count: counters?.message_count ?? 0n, bytes: counters?.bytes ?? 0n };
        held.set(record.subject, subject);
      }
      const broken = subject.policy && brokenLimit(subject.policy, subject.count, subject.bytes, record.size);
      if (broken) throw RetentionLimitError.of(broken.limit, String(broken.value), subject.policy!.pattern, record.subject, index);
      subject.count += 1n;
      subject.bytes += BigInt(record.size);
    };
  };

  const countObjects = objectCounter(db);
  const commitTransaction = db.transaction((batch: MetadataRecord[], duplicateWindowMs: number): CommittedRecord[] => {
    const nowMs = Date.now();
    const admit = policyGate();
    const next = new Map<string, { last: bigint; count: number; bytes: number }>();
    const seenIds = new Map<string, bigint>();
    let remembered = 0;
    let objects = 0;
    const committed = batch.map((record, index): CommittedRecord => {
      const { subject, headers } = record;
      const msgId = headers[msgIdHeader];
      if (msgId) {
        const original = seenIds.get(`${subject}\n${msgId}`) ?? statements.msgIdSequence.get(subject, msgId, nowMs);
        if (original !== undefined) return { sequence: original, duplicate: true };
      }
      const added = next.get(subject) ?? { last: lastSequenceOf(subject), count: 0, bytes: 0 };
      const expected = headers[expectedLastSequenceHeader];
      if (expected !== undefined && BigInt(expected) !== added.last) {
        throw new ExpectedLastSequenceError(subject, BigInt(expected), added.last, index);
      }
      if (record.objectKey !== '' && statements.removePending.run(record.objectKey).changes === 0) {
        throw new UploadExpiredError(`upload ${record.objectKey} has no pending entry (swept or never registered)`, record.objectKey);
      }
      // A duplicate returned above: it stores nothing, so it never counts against a limit.
      admit(record, index);
      const sequence = added.last + 1n;
      next.set(subject, { last: sequence, count: added.count + 1, bytes: added.bytes + record.size });
      statements.insertMessage.run(
        subject,
        sequence,
        record.timestampMs,
        JSON.stringify(headers),
        record.size,
        record.inline,
        record.objectKey,
      );
      if (record.objectKey !== '') objects++;
      if (msgId) {
        seenIds.set(`${subject}\n${msgId}`, sequence);
        statements.rememberMsgId.run(subject, msgId, sequence, nowMs + duplicateWindowMs);
        remembered++;
      }
      return { sequence };
    });
    for (const [subject, { last, count, bytes }] of next) statements.addToSubject.run(subject, last, count, bytes);
    if (objects > 0) countObjects(objects);
    // Bounded, and faster than entries arrive, so the table holds about one window's worth.
    statements.expireMsgIds.run(nowMs, expiryBatchMin + 2 * remembered);
    return committed;
  });

  const ackTransaction = db.transaction((durable: string, subject: string, sequence: bigint) => {
    const last = lastSequenceOf(subject);
    if (sequence > last) throw new AckBeyondEndError(sequence, last);
    const moved = statements.raiseAckFloor.run(durable, subject, sequence).changes > 0;
    return { floor: statements.ackFloor.get(durable, subject) ?? 0n, moved };
  });

  const ackUnconfiguredTransaction = db.transaction((durable: string, subject: string, sequence: bigint) =>
    statements.configured.get(durable) === undefined ? ackTransaction(durable, subject, sequence) : ('configured' as const),
  );

  const readFromAckFloorTransaction = db.transaction((durable: string, subject: string, limit: number): FloorPage | 'configured' => {
    if (statements.configured.get(durable) !== undefined) return 'configured';
    const ackFloor = statements.ackFloor.get(durable, subject) ?? 0n;
    return { ackFloor, rows: statements.readAfter.all(subject, ackFloor, limit).map((row) => toMetadataRow(subject, row)) };
  });

  // Tells the feed when an ack moved the floor, and answers the floor.
  const acked = (durable: string, subject: string, { floor, moved }: { floor: bigint; moved: boolean }): bigint => {
    if (moved) feed.append([{ subject, durable, ackFloor: floor }]);
    return floor;
  };

  const resetTransaction = db.transaction((durable: string, subject: string, sequence: bigint): ConsumerPosition => {
    const last = lastSequenceOf(subject);
    if (sequence > last) throw new AckBeyondEndError(sequence, last);
    statements.setAckFloor.run(durable, subject, sequence);
    return { durable, subject, ackFloor: sequence, lastSequence: last };
  });

  const claimTransaction = db.transaction((durable: string, subject: string, owner: string): boolean => {
    statements.claimOwner.run(durable, subject, owner);
    return statements.ownerOf.get(durable, subject) === owner;
  });

  // data_version changes when another connection commits, never for this one's own commits.
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  let seenDataVersion = dataVersion.get();
  const commitFirsts: CommitFirsts = new WeakMap();
  const feed = createChangeFeed({
    pollIntervalMs: crossProcessPollMs,
    writtenElsewhere() {
      const current = dataVersion.get();
      const written = current !== seenDataVersion;
      seenDataVersion = current;
      return written;
    },
  });
  let closed = false;
  const deleteOldest = oldestDeleter(db);
  const readStorageStats = storageStatsReader(db, listPolicies);
  const expiry = startSqliteExpiry(db, deleteOldest, listPolicies, expiryIntervalMs, (error) =>
    logger?.warn({ err: error }, 'expiry pass failed; retrying on the next round'),
  );
  const forgetDeletedObjects = db.transaction((keys: string[]) => {
    for (const key of keys) statements.forgetDeletedObject.run(key);
  });

  /** Runs one synchronous database step with the closed and abort checks every method needs. */
  const run = <T>(action: string, step: () => T, signal?: AbortSignal): T => {
    if (closed) throw new StoreClosedError('the SQLite metadata store is closed');
    signal?.throwIfAborted();
    return sqlite(action, step);
  };

  return {
    name: 'sqlite',
    ...sqliteConsumerStore(db, run, feed),

    async commit(batch, signal, duplicateWindowMs = defaultDuplicateWindowMs) {
      if (batch.length === 0) return [];
      diskGuard?.check();
      const committed = run('commit messages', () => commitTransaction.immediate(batch, duplicateWindowMs), signal);
      // Duplicates stored nothing: they wake nobody.
      const rangeOf = new Map<string, { first: bigint; last: bigint }>();
      committed.forEach(({ sequence, duplicate }, index) => {
        if (duplicate) return;
        const subject = batch[index]!.subject;
        const range = rangeOf.get(subject);
        if (range === undefined) rangeOf.set(subject, { first: sequence, last: sequence });
        else range.last = sequence;
      });
      const changes = [...rangeOf].map(([subject, { first, last }]) => {
        const change = { subject, lastSequence: last };
        commitFirsts.set(change, first);
        return change;
      });
      feed.append(changes);
      return committed;
    },

    async readAfter(subject, afterSequence, limit, signal) {
      const rows = run('read messages', () => statements.readAfter.all(subject, afterSequence, limit), signal);
      return rows.map((row) => toMetadataRow(subject, row));
    },

    async lastSequence(subject, signal) {
      return run('read the last sequence', () => lastSequenceOf(subject), signal);
    },

    async ackFloor(durable, subject, signal) {
      return run('read the ack floor', () => statements.ackFloor.get(durable, subject) ?? 0n, signal);
    },

    async ack(durable, subject, sequence, signal) {
      return acked(
        durable,
        subject,
        run('ack', () => ackTransaction.immediate(durable, subject, sequence), signal),
      );
    },

    async readFromAckFloor(durable, subject, limit, signal) {
      return run('read from the ack floor', () => readFromAckFloorTransaction(durable, subject, limit), signal);
    },

    async ackUnconfigured(durable, subject, sequence, signal) {
      const outcome = run('ack', () => ackUnconfiguredTransaction.immediate(durable, subject, sequence), signal);
      return outcome === 'configured' ? outcome : acked(durable, subject, outcome);
    },

    async claimConsumer(durable, subject, owner, signal) {
      return run('claim a consumer', () => claimTransaction.immediate(durable, subject, owner), signal);
    },

    async lastSequences(subjects, signal) {
      return run('read last sequences', () => subjects.map(lastSequenceOf), signal);
    },

    async waitForChanges(cursor, timeoutMs, signal, carry) {
      const batch = await run('wait for changes', () => feed.wait(cursor, timeoutMs, signal), signal);
      const { changes } = batch;
      if (carry === undefined || changes === 'resync') return batch;
      const readAfter = (subject: string, after: bigint, limit: number) =>
        statements.readAfter.all(subject, after, limit).map((row) => toMetadataRow(subject, row));
      return { ...batch, changes: run('read carried messages', () => withCarried(changes, carry, commitFirsts, readAfter)) };
    },

    async listSubjects(signal) {
      return run('list subjects', () => statements.listSubjects.all(), signal).map(toSubjectStats);
    },

    async subjectStats(subject, signal) {
      const row = run('read a subject', () => statements.subject.get(subject), signal);
      return row && toSubjectStats(row);
    },

    async listConsumers(subject, signal) {
      const rows = run(
        'list consumers',
        () => (subject === undefined ? statements.listConsumers.all() : statements.consumersOf.all(subject)),
        signal,
      );
      return rows.map(toConsumerPosition);
    },

    async consumerPosition(durable, subject, signal) {
      const row = run('read a consumer', () => statements.consumer.get(durable, subject), signal);
      return row && toConsumerPosition(row);
    },

    async resetConsumer(durable, subject, sequence, signal) {
      const position = run('reset a consumer', () => resetTransaction.immediate(durable, subject, sequence), signal);
      // Streams following the consumer re-read its floor, as after an ack.
      feed.append([{ subject, durable, ackFloor: position.ackFloor }]);
      return position;
    },

    async addPendingUpload(objectKey, createdAtMs) {
      // Refused before its payload is written to the folder.
      diskGuard?.check();
      run('register a pending upload', () => statements.addPending.run(objectKey, createdAtMs));
    },

    async listStalePendingUploads(olderThanMs, limit) {
      return run('list pending uploads', () => statements.stalePending.all(olderThanMs, limit));
    },

    async removePendingUpload(objectKey) {
      run('remove a pending upload', () => statements.removePending.run(objectKey));
    },

    async purge(subject, throughSequence, signal) {
      const through = throughSequence ?? run('read the last sequence', () => lastSequenceOf(subject), signal);
      const deleteChecked: DeleteOldest = (name, doomed, reason) => run('purge', () => deleteOldest(name, doomed, reason), signal);
      return deleteOldestWhile(deleteChecked, subject, (row) => row.sequence <= through, 'purged');
    },

    async storageStats(signal) {
      const stats = run('read storage stats', readStorageStats, signal);
      const diskUsedPercent = diskGuard?.usedPercent();
      return diskUsedPercent === undefined ? stats : { ...stats, diskUsedPercent };
    },

    async setRetentionPolicy(policy, signal) {
      const { pattern, maxAgeMs, maxMessages, maxBytes, maxMessageBytes, discard, retention } = policy;
      const store = () => statements.setPolicy.run(pattern, maxAgeMs, maxMessages, maxBytes, maxMessageBytes, discard, retention);
      run('store a retention policy', store, signal);
      expiry.wake();
    },

    async listRetentionPolicies(signal) {
      return run('list retention policies', listPolicies, signal);
    },

    async retentionPolicyOf(subject, signal) {
      return run('read a retention policy', () => policyOf(listPolicies(), subject), signal);
    },

    async deleteRetentionPolicy(pattern, signal) {
      return run('delete a retention policy', () => statements.deletePolicy.run(pattern).changes > 0, signal);
    },

    async deletedObjects(limit) {
      return run('list deleted objects', () => statements.deletedObjects.all(limit));
    },

    async forgetDeletedObjects(keys) {
      run('forget deleted objects', () => forgetDeletedObjects.immediate(keys));
    },

    async checkHealth() {
      try {
        run('check health', () => statements.ping.get());
        return { name: 'sqlite', ok: true, detail: 'ok' };
      } catch (error) {
        return { name: 'sqlite', ok: false, detail: error instanceof Error ? error.message : String(error) };
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      await expiry.stop();
      feed.close();
      db.close();
    },
  };
}

function toSubjectStats(row: SubjectRowData): SubjectStats {
  return {
    subject: row.name,
    messages: row.message_count,
    bytes: row.bytes,
    firstSequence: row.first_sequence ?? 0n,
    lastSequence: row.last_sequence,
    lastPublishMs: row.last_publish_ms === null ? undefined : Number(row.last_publish_ms),
  };
}

function toConsumerPosition(row: ConsumerRowData): ConsumerPosition {
  return { durable: row.durable, subject: row.subject, ackFloor: row.ack_floor, lastSequence: row.last_sequence ?? 0n };
}

/** SQLite result codes a later attempt may not hit: locks, I/O, a full disk, a file that cannot be opened. */
const retryableCodes = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOMEM)/;

function sqlite<T>(action: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof StoreError) throw error;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && retryableCodes.test(code)) {
      throw new StoreUnavailableError(`cannot ${action}: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}
