import type { Database } from 'better-sqlite3';
import {
  ConsumerConflictError,
  ConsumerNotFoundError,
  consumerConfigDifferences,
  deadLetterHeaders,
  decodeConsumerConfig,
  deliveryCountHeader,
  encodeConsumerConfig,
  type ConsumerConfig,
  type ConsumerRecord,
  type ConsumerStore,
  type DeadLetterReason,
  type LeasedRow,
  type SettleOutcome,
  type Settlement,
  type SubjectStart,
} from '../consumers.js';
import type { CommitChange, ReadLimits, StoreChange } from '../store.js';
import type { ChangeFeed } from './change-feed.js';
import { objectReleaser } from './sqlite-object-refs.js';
import { messageColumns as sequenceColumns, toMetadataRow, type MessageRowData as SequenceRowData } from './sqlite-rows.js';

/** Runs one synchronous database step with the store's closed and abort checks. */
export type RunStep = <T>(action: string, step: () => T, signal?: AbortSignal) => T;

interface ConfigRowData {
  config: string;
  created_ms: bigint;
  delivered_total: bigint;
  dead_lettered_total: bigint;
}

interface LeaseRowData {
  subject: string;
  sequence: bigint;
  deliveries: bigint;
}

/** A message row with its subject: leases and redrives span subjects. */
interface MessageRowData extends SequenceRowData {
  subject: string;
}

interface PositionRowData {
  subject: string;
  ack_floor: bigint;
  delivered: bigint;
  last_sequence: bigint;
  oldest_unacked_ms: bigint | null;
}

const messageColumns = `subject, ${sequenceColumns}`;
/** The headers a dead letter adds to its original's. */
const addedHeaders = [...Object.values(deadLetterHeaders), deliveryCountHeader];

/** How long the `deliveries`-th delivery of a message is leased. */
function leaseLengthMs(config: ConsumerConfig, deliveries: number): number {
  const { backoffMs, ackWaitMs } = config;
  return backoffMs.length > 0 ? backoffMs[Math.min(deliveries, backoffMs.length) - 1]! : ackWaitMs;
}

/**
 * The {@link ConsumerStore} of the embedded store: each method is one
 * `BEGIN IMMEDIATE` transaction on the shared database, so processes sharing
 * the file agree on leases. Dead letters and redriven messages are committed
 * like publishes (next sequence, subject counters, change feed) but never
 * refused by a retention limit: settling must not fail because the
 * dead-letter subject is full.
 */
export function sqliteConsumerStore(db: Database, run: RunStep, feed: ChangeFeed): ConsumerStore {
  const statements = {
    config: db.prepare<[string], ConfigRowData>(
      'SELECT config, created_ms, delivered_total, dead_lettered_total FROM consumer_configs WHERE durable = ?',
    ),
    configs: db.prepare<[], ConfigRowData>(
      'SELECT config, created_ms, delivered_total, dead_lettered_total FROM consumer_configs ORDER BY durable',
    ),
    insertConfig: db.prepare<[string, string, number]>('INSERT INTO consumer_configs (durable, config, created_ms) VALUES (?, ?, ?)'),
    updateConfig: db.prepare<[string, string]>('UPDATE consumer_configs SET config = ? WHERE durable = ?'),
    countDelivered: db.prepare<[number, string]>('UPDATE consumer_configs SET delivered_total = delivered_total + ? WHERE durable = ?'),
    countDeadLettered: db.prepare<[string]>('UPDATE consumer_configs SET dead_lettered_total = dead_lettered_total + 1 WHERE durable = ?'),
    deleteConfig: db.prepare<[string]>('DELETE FROM consumer_configs WHERE durable = ?'),
    deletePositions: db.prepare<[string]>('DELETE FROM consumer_positions WHERE durable = ?'),
    deleteLeases: db.prepare<[string]>('DELETE FROM consumer_leases WHERE durable = ?'),
    startPosition: db.prepare<[string, string, bigint, bigint]>(
      'INSERT INTO consumer_positions (durable, subject, ack_floor, delivered) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    delivered: db.prepare<[string, string], bigint>('SELECT delivered FROM consumer_positions WHERE durable = ? AND subject = ?').pluck(),
    setDelivered: db.prepare<[bigint, string, string]>('UPDATE consumer_positions SET delivered = ? WHERE durable = ? AND subject = ?'),
    // Every sequence below the lowest lease, up to delivered, is settled.
    recomputeFloor: db.prepare<{ durable: string; subject: string }>(
      `UPDATE consumer_positions SET ack_floor = min(delivered, coalesce(
         (SELECT min(sequence) - 1 FROM consumer_leases WHERE durable = :durable AND subject = :subject), delivered))
       WHERE durable = :durable AND subject = :subject`,
    ),
    positions: db.prepare<[string], PositionRowData>(
      `SELECT p.subject, p.ack_floor, p.delivered, coalesce(s.last_sequence, 0) AS last_sequence,
         (SELECT timestamp_ms FROM messages m WHERE m.subject = p.subject AND m.sequence > p.ack_floor
          ORDER BY m.sequence LIMIT 1) AS oldest_unacked_ms
       FROM consumer_positions p LEFT JOIN subjects s ON s.name = p.subject
       WHERE p.durable = ? ORDER BY p.subject`,
    ),
    expiredLeases: db.prepare<[string, number, number], LeaseRowData>(
      `SELECT subject, sequence, deliveries FROM consumer_leases WHERE durable = ? AND lease_until_ms <= ?
       ORDER BY lease_until_ms, subject, sequence LIMIT ?`,
    ),
    lease: db.prepare<[string, string, bigint], LeaseRowData>(
      'SELECT subject, sequence, deliveries FROM consumer_leases WHERE durable = ? AND subject = ? AND sequence = ?',
    ),
    insertLease: db.prepare<[string, string, bigint, number]>(
      'INSERT INTO consumer_leases (durable, subject, sequence, deliveries, lease_until_ms) VALUES (?, ?, ?, 1, ?)',
    ),
    renewLease: db.prepare<[number, number, string, string, bigint]>(
      'UPDATE consumer_leases SET deliveries = ?, lease_until_ms = ? WHERE durable = ? AND subject = ? AND sequence = ?',
    ),
    deleteLease: db.prepare<[string, string, bigint]>('DELETE FROM consumer_leases WHERE durable = ? AND subject = ? AND sequence = ?'),
    deleteLeasesThrough: db.prepare<[string, string, bigint]>(
      'DELETE FROM consumer_leases WHERE durable = ? AND subject = ? AND sequence <= ?',
    ),
    leaseCounts: db.prepare<[string], { held: bigint; redelivered: bigint }>(
      `SELECT count(*) AS held, coalesce(sum(deliveries > 1), 0) AS redelivered FROM consumer_leases WHERE durable = ?`,
    ),
    nextExpiry: db.prepare<[string], bigint | null>('SELECT min(lease_until_ms) FROM consumer_leases WHERE durable = ?').pluck(),
    message: db.prepare<[string, bigint], MessageRowData>(`SELECT ${messageColumns} FROM messages WHERE subject = ? AND sequence = ?`),
    messagesAfter: db.prepare<[string, bigint, number], MessageRowData>(
      `SELECT ${messageColumns} FROM messages WHERE subject = ? AND sequence > ? ORDER BY sequence LIMIT ?`,
    ),
    redriveCandidates: db.prepare<[string, bigint, bigint, bigint, number], MessageRowData>(
      `SELECT ${messageColumns} FROM messages WHERE subject = ? AND sequence >= ? AND (? = 0 OR sequence <= ?)
       ORDER BY sequence LIMIT ?`,
    ),
    lastSequence: db.prepare<[string], bigint>('SELECT last_sequence FROM subjects WHERE name = ?').pluck(),
    insertMessage: db.prepare<[string, bigint, number, string, bigint, Buffer | null, string]>(
      `INSERT INTO messages (subject, sequence, timestamp_ms, headers, size, inline, object_key) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    addToSubject: db.prepare<[string, bigint, bigint]>(
      `INSERT INTO subjects (name, last_sequence, message_count, bytes) VALUES (?, ?, 1, ?)
       ON CONFLICT (name) DO UPDATE SET last_sequence = excluded.last_sequence,
         message_count = subjects.message_count + 1, bytes = subjects.bytes + excluded.bytes`,
    ),
    deleteMessage: db.prepare<[string, bigint]>('DELETE FROM messages WHERE subject = ? AND sequence = ?'),
    removeFromSubject: db.prepare<[bigint, string]>(
      'UPDATE subjects SET message_count = message_count - 1, bytes = bytes - ? WHERE name = ?',
    ),
  };
  const releaseObject = objectReleaser(db);

  const configOf = (durable: string): ConfigRowData => {
    const row = statements.config.get(durable);
    if (!row) throw new ConsumerNotFoundError(durable);
    return row;
  };
  const recordOf = (row: ConfigRowData): ConsumerRecord => ({
    config: decodeConsumerConfig(row.config),
    createdMs: Number(row.created_ms),
  });

  /** Commits a copy of `row` (payload shared) to `subject` as its next message; the change it makes. */
  const append = (subject: string, row: MessageRowData, headers: Record<string, string>, timestampMs: number): CommitChange => {
    const sequence = (statements.lastSequence.get(subject) ?? 0n) + 1n;
    statements.insertMessage.run(subject, sequence, timestampMs, JSON.stringify(headers), row.size, row.inline, row.object_key);
    statements.addToSubject.run(subject, sequence, row.size);
    return { subject, lastSequence: sequence };
  };

  /** Counts a message out of the pending set and, when the consumer has a dead-letter subject, commits it there. */
  const deadLetter = (
    durable: string,
    config: ConsumerConfig,
    row: MessageRowData,
    deliveries: number,
    reason: DeadLetterReason,
    nowMs: number,
  ): CommitChange | undefined => {
    statements.countDeadLettered.run(durable);
    if (config.deadLetterSubject === '') return undefined;
    const headers = {
      ...(JSON.parse(row.headers) as Record<string, string>),
      [deadLetterHeaders.subject]: row.subject,
      [deadLetterHeaders.sequence]: String(row.sequence),
      [deadLetterHeaders.consumer]: durable,
      [deadLetterHeaders.reason]: reason,
      [deliveryCountHeader]: String(deliveries),
    };
    return append(config.deadLetterSubject, row, headers, nowMs);
  };

  const createTransaction = db.transaction((config: ConsumerConfig, nowMs: number): ConsumerRecord => {
    const existing = statements.config.get(config.durable);
    if (!existing) {
      statements.insertConfig.run(config.durable, encodeConsumerConfig(config), nowMs);
      return { config, createdMs: nowMs };
    }
    const record = recordOf(existing);
    const differences = consumerConfigDifferences(record.config, config);
    if (differences.length > 0) throw new ConsumerConflictError(config.durable, differences);
    return record;
  });

  const updateTransaction = db.transaction((config: ConsumerConfig): ConsumerRecord => {
    const record = recordOf(configOf(config.durable));
    const immutable = consumerConfigDifferences(record.config, config).filter((field) => field === 'ackPolicy' || field === 'deliver');
    if (immutable.length > 0) throw new ConsumerConflictError(config.durable, immutable);
    statements.updateConfig.run(encodeConsumerConfig(config), config.durable);
    return { config, createdMs: record.createdMs };
  });

  const deleteTransaction = db.transaction((durable: string): boolean => {
    statements.deletePositions.run(durable);
    statements.deleteLeases.run(durable);
    return statements.deleteConfig.run(durable).changes > 0;
  });

  const startTransaction = db.transaction((durable: string, starts: SubjectStart[]) => {
    configOf(durable);
    for (const { subject, startAfter } of starts) statements.startPosition.run(durable, subject, startAfter, startAfter);
  });

  const leaseTransaction = db.transaction((durable: string, subjects: string[], limits: ReadLimits, nowMs: number) => {
    const config = decodeConsumerConfig(configOf(durable).config);
    const rows: LeasedRow[] = [];
    const commits: CommitChange[] = [];
    const floorsToMove = new Set<string>();
    let bytes = 0;
    let deadLettered = 0;
    // A lease ended (deleted message, dead letter): room another stream may use.
    let freed = false;
    // The first message of a lease is handed out whatever its size.
    const fits = (row: MessageRowData) => rows.length === 0 || bytes + Number(row.size) <= limits.maxBytes;
    const handOut = (row: MessageRowData, deliveryCount: number) => {
      bytes += Number(row.size);
      rows.push({ ...toMetadataRow(row.subject, row), deliveryCount });
    };

    // Redeliveries first; a page at a time, since leases handled leave the expired set.
    let full = false;
    while (!full && rows.length < limits.maxMessages) {
      const expired = statements.expiredLeases.all(durable, nowMs, limits.maxMessages - rows.length);
      if (expired.length === 0) break;
      for (const lease of expired) {
        const deliveries = Number(lease.deliveries);
        const row = statements.message.get(lease.subject, lease.sequence);
        const exhausted = config.maxDeliver > 0 && deliveries >= config.maxDeliver;
        if (row && !exhausted && !fits(row)) {
          full = true;
          break;
        }
        if (!row || exhausted) {
          // Deleted by retention (nothing to deliver), or out of deliveries.
          statements.deleteLease.run(durable, lease.subject, lease.sequence);
          floorsToMove.add(lease.subject);
          freed = true;
          if (row) {
            deadLettered++;
            const commit = deadLetter(durable, config, row, deliveries, 'max_deliver', nowMs);
            if (commit) commits.push(commit);
          }
          continue;
        }
        statements.renewLease.run(deliveries + 1, nowMs + leaseLengthMs(config, deliveries + 1), durable, lease.subject, lease.sequence);
        handOut(row, deliveries + 1);
      }
    }

    // Then new messages, as far as maxAckPending leaves room.
    let room = config.maxAckPending - Number(statements.leaseCounts.get(durable)!.held);
    for (const subject of subjects) {
      if (full || room <= 0 || rows.length >= limits.maxMessages) break;
      const delivered = statements.delivered.get(durable, subject);
      if (delivered === undefined) continue;
      let last = delivered;
      for (const row of statements.messagesAfter.all(subject, delivered, Math.min(room, limits.maxMessages - rows.length))) {
        if (!fits(row)) {
          full = true;
          break;
        }
        statements.insertLease.run(durable, subject, row.sequence, nowMs + leaseLengthMs(config, 1));
        handOut(row, 1);
        room--;
        last = row.sequence;
      }
      if (last !== delivered) {
        statements.setDelivered.run(last, durable, subject);
        floorsToMove.add(subject);
      }
    }

    for (const subject of floorsToMove) statements.recomputeFloor.run({ durable, subject });
    statements.countDelivered.run(rows.length, durable);
    const nextExpiry = statements.nextExpiry.get(durable);
    return {
      rows,
      deadLettered,
      nextExpiryMs: typeof nextExpiry === 'bigint' ? Number(nextExpiry) : undefined,
      commits,
      freed,
    };
  });

  const settleTransaction = db.transaction((durable: string, settlements: Settlement[], nowMs: number) => {
    const config = decodeConsumerConfig(configOf(durable).config);
    const commits: CommitChange[] = [];
    const floorsToMove = new Set<string>();
    const settleOne = ({ subject, sequence, kind, delayMs, deliveryCount }: Settlement): SettleOutcome => {
      if (kind === 'ack' && config.ackPolicy === 'all') {
        if (statements.deleteLeasesThrough.run(durable, subject, sequence).changes === 0) return 'not_pending';
        floorsToMove.add(subject);
        return 'applied';
      }
      const lease = statements.lease.get(durable, subject, sequence);
      if (!lease) return 'not_pending';
      const deliveries = Number(lease.deliveries);
      if (kind !== 'ack' && deliveryCount !== undefined && deliveryCount !== deliveries) return 'stale';
      if (kind === 'nak' || kind === 'progress') {
        const until = nowMs + (kind === 'nak' ? delayMs : leaseLengthMs(config, deliveries));
        statements.renewLease.run(deliveries, until, durable, subject, sequence);
        return 'applied';
      }
      statements.deleteLease.run(durable, subject, sequence);
      floorsToMove.add(subject);
      const row = kind === 'term' ? statements.message.get(subject, sequence) : undefined;
      const commit = row && deadLetter(durable, config, row, deliveries, 'term', nowMs);
      if (commit) commits.push(commit);
      return 'applied';
    };
    const outcomes = settlements.map(settleOne);
    for (const subject of floorsToMove) statements.recomputeFloor.run({ durable, subject });
    return { outcomes, commits };
  });

  const redriveTransaction = db.transaction((deadLetterSubject: string, from: bigint, to: bigint, limit: number) => {
    const nowMs = Date.now();
    const candidates = statements.redriveCandidates.all(deadLetterSubject, from, to, to, limit);
    const commits: CommitChange[] = [];
    for (const row of candidates) {
      const headers = JSON.parse(row.headers) as Record<string, string>;
      const original = headers[deadLetterHeaders.subject];
      if (original === undefined) continue;
      for (const name of addedHeaders) delete headers[name];
      commits.push(append(original, row, headers, nowMs));
      statements.deleteMessage.run(deadLetterSubject, row.sequence);
      statements.removeFromSubject.run(row.size, deadLetterSubject);
      releaseObject(row.object_key);
    }
    return { moved: commits.length, lastExamined: candidates.at(-1)?.sequence ?? 0n, commits };
  });

  const statsOf = (durable: string) => {
    const row = statements.config.get(durable);
    if (!row) return undefined;
    const positions = statements.positions.all(durable);
    const { held, redelivered } = statements.leaseCounts.get(durable)!;
    const unacked = positions.flatMap((position) => (position.oldest_unacked_ms === null ? [] : [Number(position.oldest_unacked_ms)]));
    return {
      record: recordOf(row),
      positions: positions.map((position) => ({
        subject: position.subject,
        ackFloor: position.ack_floor,
        delivered: position.delivered,
        lastSequence: position.last_sequence,
      })),
      delivered: row.delivered_total,
      ackPending: Number(held),
      redelivered: Number(redelivered),
      deadLettered: row.dead_lettered_total,
      oldestUnackedMs: unacked.length > 0 ? Math.min(...unacked) : undefined,
    };
  };

  /** Wakes the consumer's waiting streams, after the commits that dead letters and redrives made. */
  const announce = (commits: CommitChange[], durable: string | undefined) => {
    const changes: StoreChange[] = [...lastOfEach(commits)];
    if (durable !== undefined) changes.push({ consumer: durable });
    feed.append(changes);
  };

  return {
    async createConsumer(config, nowMs, signal) {
      return run('create a consumer', () => createTransaction.immediate(config, nowMs), signal);
    },

    async updateConsumer(config, signal) {
      const record = run('update a consumer', () => updateTransaction.immediate(config), signal);
      // A larger maxAckPending or another filter: waiting streams look again.
      announce([], config.durable);
      return record;
    },

    async deleteConsumer(durable, signal) {
      const deleted = run('delete a consumer', () => deleteTransaction.immediate(durable), signal);
      if (deleted) announce([], durable);
      return deleted;
    },

    async consumerRecord(durable, signal) {
      const row = run('read a consumer', () => statements.config.get(durable), signal);
      return row && recordOf(row);
    },

    async listConsumerRecords(signal) {
      return run('list consumers', () => statements.configs.all(), signal).map(recordOf);
    },

    async startConsumerSubjects(durable, starts, signal) {
      run('start consumer subjects', () => startTransaction.immediate(durable, starts), signal);
    },

    async lease(durable, subjects, limits, nowMs, signal) {
      const { commits, freed, ...outcome } = run(
        'lease messages',
        () => leaseTransaction.immediate(durable, subjects, limits, nowMs),
        signal,
      );
      if (freed) announce(commits, durable);
      return outcome;
    },

    async settle(durable, settlements, nowMs, signal) {
      const { outcomes, commits } = run('settle messages', () => settleTransaction.immediate(durable, settlements, nowMs), signal);
      if (outcomes.includes('applied')) announce(commits, durable);
      return outcomes;
    },

    async consumerStats(durable, signal) {
      return run('read consumer stats', () => statsOf(durable), signal);
    },

    async redrive(deadLetterSubject, from, to, limit, signal) {
      const { commits, ...outcome } = run(
        'redrive dead letters',
        () => redriveTransaction.immediate(deadLetterSubject, from, to, limit),
        signal,
      );
      announce(commits, undefined);
      return outcome;
    },
  };
}

/** One change per subject, with its highest sequence. */
function lastOfEach(commits: CommitChange[]): CommitChange[] {
  const last = new Map<string, bigint>();
  for (const { subject, lastSequence } of commits) last.set(subject, lastSequence);
  return [...last].map(([subject, lastSequence]) => ({ subject, lastSequence }));
}
