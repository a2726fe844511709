import {
  ConsumerConflictError,
  ConsumerNotFoundError,
  decodeConsumerConfig,
  encodeConsumerConfig,
  type ConsumerRecord,
  type ConsumerStats,
  type ConsumerStore,
  type SettleOutcome,
  type Settlement,
} from '../consumers.js';
import { StoreError } from '../store.js';
import { fromWireRow, type Outcome, type Procedures, type WireRow } from './procedure-call.js';

interface WireRecord {
  config: string;
  created_ms: string;
}

interface WireLeasedRow extends WireRow {
  subject: string;
  deliveries: number;
}

interface WirePosition {
  subject: string;
  ack_floor: string;
  delivered: string;
  last_sequence: string;
}

interface WireStats {
  record: WireRecord;
  positions: WirePosition[];
  delivered: string;
  ack_pending: number;
  redelivered: number;
  dead_lettered: string;
  oldest_unacked_ms: string | null;
}

/**
 * The configured-consumer half of the Tarantool metadata store: one
 * procedure of init.lua per operation, each one transaction there.
 * Sequences travel as decimal strings, times in milliseconds as numbers.
 */
export function tarantoolConsumerStore({ invoke, expectOk }: Procedures): ConsumerStore {
  /** Invokes a procedure about `durable`, turning its expected failures into the contract's errors. */
  async function consumerCall(name: string, durable: string, args: unknown[], signal?: AbortSignal): Promise<Outcome> {
    const outcome = await invoke(name, args, signal);
    if (outcome.code === 'CONSUMER_NOT_FOUND') throw new ConsumerNotFoundError(durable);
    if (outcome.code === 'CONSUMER_CONFLICT') throw new ConsumerConflictError(durable, outcome.fields as string[]);
    if (!outcome.ok) throw new StoreError(`tarantool procedure ${name} failed with ${outcome.code}`);
    return outcome;
  }

  return {
    async createConsumer(config, nowMs, signal) {
      const outcome = await consumerCall(
        'mts_create_consumer',
        config.durable,
        [config.durable, encodeConsumerConfig(config), nowMs],
        signal,
      );
      return fromWireRecord(outcome.record as WireRecord);
    },

    async updateConsumer(config, signal) {
      const outcome = await consumerCall('mts_update_consumer', config.durable, [config.durable, encodeConsumerConfig(config)], signal);
      return fromWireRecord(outcome.record as WireRecord);
    },

    async deleteConsumer(durable, signal) {
      return (await expectOk('mts_delete_consumer', [durable], signal)).deleted === true;
    },

    async consumerRecord(durable, signal) {
      const found = (await expectOk('mts_consumer_record', [durable], signal)).record as WireRecord | null | undefined;
      return found ? fromWireRecord(found) : undefined;
    },

    async listConsumerRecords(signal) {
      return ((await expectOk('mts_list_consumer_records', [], signal)).records as WireRecord[]).map(fromWireRecord);
    },

    async startConsumerSubjects(durable, starts, signal) {
      const wire = starts.map(({ subject, startAfter }) => [subject, startAfter.toString()]);
      await consumerCall('mts_start_consumer_subjects', durable, [durable, wire], signal);
    },

    async lease(durable, subjects, limits, nowMs, signal) {
      const outcome = await consumerCall('mts_lease', durable, [durable, subjects, limits.maxMessages, limits.maxBytes, nowMs], signal);
      const nextExpiry = outcome.next_expiry_ms as string | null | undefined;
      return {
        rows: (outcome.rows as WireLeasedRow[]).map((row) => ({ ...fromWireRow(row.subject, row), deliveryCount: row.deliveries })),
        deadLettered: outcome.dead_lettered as number,
        nextExpiryMs: nextExpiry === null || nextExpiry === undefined ? undefined : Number(nextExpiry),
      };
    },

    async settle(durable, settlements, nowMs, signal) {
      const outcome = await consumerCall('mts_settle', durable, [durable, settlements.map(toWireSettlement), nowMs], signal);
      return outcome.outcomes as SettleOutcome[];
    },

    async consumerStats(durable, signal) {
      const found = (await expectOk('mts_consumer_stats', [durable], signal)).stats as WireStats | null | undefined;
      return found ? fromWireStats(found) : undefined;
    },

    async redrive(deadLetterSubject, from, to, limit, signal) {
      const outcome = await expectOk('mts_redrive', [deadLetterSubject, from.toString(), to.toString(), limit], signal);
      return { moved: outcome.moved as number, lastExamined: BigInt(outcome.last_examined as string) };
    },
  };
}

function toWireSettlement({ subject, sequence, kind, delayMs, deliveryCount }: Settlement) {
  return { subject, sequence: sequence.toString(), kind, delay_ms: delayMs, delivery_count: deliveryCount ?? null };
}

function fromWireRecord(record: WireRecord): ConsumerRecord {
  return { config: decodeConsumerConfig(record.config), createdMs: Number(record.created_ms) };
}

function fromWireStats(stats: WireStats): ConsumerStats {
  return {
    record: fromWireRecord(stats.record),
    positions: stats.positions.map((position) => ({
      subject: position.subject,
      ackFloor: BigInt(position.ack_floor),
      delivered: BigInt(position.delivered),
      lastSequence: BigInt(position.last_sequence),
    })),
    delivered: BigInt(stats.delivered),
    ackPending: stats.ack_pending,
    redelivered: stats.redelivered,
    deadLettered: BigInt(stats.dead_lettered),
    oldestUnackedMs: stats.oldest_unacked_ms === null ? undefined : Number(stats.oldest_unacked_ms),
  };
}
