import {
  AckBeyondEndError,
  ExpectedLastSequenceError,
  RetentionLimitError,
  StoreError,
  StoreFullError,
  defaultDuplicateWindowMs,
  expectedLastSequenceHeader,
  type CommittedRecord,
  UploadExpiredError,
  type DependencyStatus,
  type ConsumerPosition,
  type MetadataRecord,
  type MetadataStore,
  type StoreChange,
  type SubjectStats,
} from '../store.js';
import { policyFromColumns, type PolicyColumns } from '../retention-rules.js';
import { openTarantoolLink, type TarantoolConnectionOptions } from './connection.js';
import { tarantoolConsumerStore } from './consumer-procedures.js';
import { fromWireRow, procedureCaller, type Outcome, type Procedures, type WireRow } from './procedure-call.js';

/** Options of {@link openTarantoolMetadataStore}; `TarantoolConfig` fits. */
export type TarantoolMetadataStoreOptions = TarantoolConnectionOptions;

/**
 * A change of the feed: a commit ({subject, last}), an ack of a durable never
 * configured ({subject, durable, floor}), or a change of a configured
 * consumer's leases ({consumer, subject: '', last: '0'}, which egress of the
 * previous release takes for a commit nobody watches).
 */
type WireChange =
  | { subject: string; last: string; consumer?: string; after?: string; rows?: WireRow[] }
  | { subject: string; durable: string; floor: string };

interface WireSubject {
  subject: string;
  messages: string;
  bytes: string;
  first_sequence: string;
  last_sequence: string;
  last_publish_ms: string | null;
}

interface WireConsumer {
  durable: string;
  subject: string;
  ack_floor: string;
  last_sequence: string;
}

/** What mts_commit answers when a retention policy refuses a record. */
interface WireRefusal {
  limit: string;
  value: string;
  pattern: string;
  subject: string;
  /** The record's position, from 1. */
  index: number;
}

const healthTimeoutMs = 1000;
// Changes one feed answer carries at most; a caller further behind asks again at once.
const feedAnswerLimit = 4096;
// Messages one purge call deletes in one transaction at most.
const purgeBatch = 1000;
// How much longer than the wait itself a wait call may take to answer.
const waitMarginMs = 2000;

/**
 * Opens the Tarantool metadata store: calls the procedures of
 * services/tarantool/init.lua. Opening never fails because Tarantool is down;
 * calls then throw StoreUnavailableError until the connection is back.
 */
export function openTarantoolMetadataStore(options: TarantoolMetadataStoreOptions): MetadataStore {
  if (options.password === '') {
    throw new StoreError('tarantool: a password is required (init.lua refuses to run without TARANTOOL_PASSWORD)');
  }
  const link = openTarantoolLink(options);
  return createProcedures(procedureCaller(link), () => link.close());
}

function createProcedures(procedures: Procedures, close: () => Promise<void>): MetadataStore {
  const { invoke, expectOk } = procedures;
  return {
    name: 'tarantool',
    ...tarantoolConsumerStore(procedures),

    async commit(batch: MetadataRecord[], signal?: AbortSignal, duplicateWindowMs = defaultDuplicateWindowMs): Promise<CommittedRecord[]> {
      const outcome = await invoke('mts_commit', [batch.map(toWireRecord), duplicateWindowMs], signal);
      if (outcome.code === 'UPLOAD_EXPIRED') {
        const key = String(outcome.object_key);
        throw new UploadExpiredError(`pending upload ${key} expired before its commit`, key);
      }
      if (outcome.code === 'STORE_FULL') {
        const full =
          outcome.problem === undefined
            ? `tarantool memory is ${outcome.used_percent}% full; publishes are refused from ${outcome.refuse_percent}%`
            : `tarantool memory could not take the batch (${outcome.problem}; ${outcome.used_percent}% of it in use); publishes fail`;
        throw new StoreFullError(`${full} until retention or a purge frees space`);
      }
      if (outcome.code === 'LIMIT_EXCEEDED') {
        const { limit, value, pattern, subject, index } = outcome as Outcome & WireRefusal;
        throw RetentionLimitError.of(limit, value, pattern, subject, index - 1);
      }
      if (outcome.code === 'WRONG_LAST_SEQUENCE') {
        const index = outcome.index as number;
        const { subject, headers } = batch[index]!;
        throw new ExpectedLastSequenceError(subject, BigInt(headers[expectedLastSequenceHeader]!), BigInt(outcome.last as string), index);
      }
      if (!outcome.ok) throw new StoreError(`tarantool procedure mts_commit failed with ${outcome.code}`);
      return committedFrom(
        batch,
        outcome.first as string[],
        Array.isArray(outcome.duplicates) ? (outcome.duplicates as [number, string][]) : [],
      );
    },

    async readAfter(subject, afterSequence, limit, signal) {
      const outcome = await expectOk('mts_read_after', [subject, afterSequence.toString(), limit], signal);
      return (outcome.rows as WireRow[]).map((row) => fromWireRow(subject, row));
    },

    async lastSequence(subject, signal) {
      return BigInt((await expectOk('mts_last_sequence', [subject], signal)).last as string);
    },

    async ackFloor(durable, subject, signal) {
      return BigInt((await expectOk('mts_ack_floor', [durable, subject], signal)).floor as string);
    },

    async ack(durable, subject, sequence, signal) {
      return ackedFloor(await invoke('mts_ack', [durable, subject, sequence.toString()], signal), 'mts_ack', sequence);
    },

    async readFromAckFloor(durable, subject, limit, signal) {
      const outcome = await invoke('mts_fetch_from_floor', [durable, subject, limit], signal);
      if (outcome.code === 'CONSUMER_CONFIGURED') return 'configured';
      if (!outcome.ok) throw new StoreError(`tarantool procedure mts_fetch_from_floor failed with ${outcome.code}`);
      return { ackFloor: BigInt(outcome.floor as string), rows: (outcome.rows as WireRow[]).map((row) => fromWireRow(subject, row)) };
    },

    async ackUnconfigured(durable, subject, sequence, signal) {
      const outcome = await invoke('mts_ack_unconfigured', [durable, subject, sequence.toString()], signal);
      if (outcome.code === 'CONSUMER_CONFIGURED') return 'configured';
      return ackedFloor(outcome, 'mts_ack_unconfigured', sequence);
    },

    async claimConsumer(durable, subject, owner, signal) {
      return (await expectOk('mts_claim_consumer', [durable, subject, owner], signal)).owned === true;
    },

    async lastSequences(subjects, signal) {
      if (subjects.length === 0) return [];
      return ((await expectOk('mts_last_sequences', [subjects], signal)).lasts as string[]).map((last) => BigInt(last));
    },

    async waitForChanges(cursor, timeoutMs, signal, carry) {
      const wait = Math.max(0, timeoutMs);
      const args = [cursor, wait / 1000, feedAnswerLimit, ...(carry === undefined ? [] : [carry.bytes, carry.subjects ?? null])];
      const outcome = await expectOk('mts_wait_for_changes', args, signal, wait + waitMarginMs);
      const changes = outcome.resync === true ? 'resync' : (outcome.changes as WireChange[]).map(fromWireChange);
      return { cursor: outcome.cursor as string, changes };
    },

    async listSubjects(signal) {
      return ((await expectOk('mts_list_subjects', [], signal)).subjects as WireSubject[]).map(fromWireSubject);
    },

    async subjectStats(subject, signal) {
      const found = (await expectOk('mts_subject_info', [subject], signal)).subject as WireSubject | null | undefined;
      return found ? fromWireSubject(found) : undefined;
    },

    async listConsumers(subject, signal) {
      const outcome = await expectOk('mts_list_consumers', subject === undefined ? [] : [subject], signal);
      return (outcome.consumers as WireConsumer[]).map(fromWireConsumer);
    },

    async consumerPosition(durable, subject, signal) {
      const found = (await expectOk('mts_consumer_info', [durable, subject], signal)).consumer as WireConsumer | null | undefined;
      return found ? fromWireConsumer(found) : undefined;
    },

    async resetConsumer(durable, subject, sequence, signal) {
      const outcome = await invoke('mts_reset_consumer', [durable, subject, sequence.toString()], signal);
      if (outcome.code === 'ACK_BEYOND_END') throw new AckBeyondEndError(sequence, BigInt(outcome.last as string));
      if (!outcome.ok) throw new StoreError(`tarantool procedure mts_reset_consumer failed with ${outcome.code}`);
      return fromWireConsumer(outcome.consumer as WireConsumer);
    },

    async addPendingUpload(objectKey, createdAtMs) {
      await expectOk('mts_add_pending_upload', [objectKey, String(createdAtMs)]);
    },

    async listStalePendingUploads(olderThanMs, limit) {
      return (await expectOk('mts_list_stale_pending_uploads', [String(olderThanMs), limit])).keys as string[];
    },

    async removePendingUpload(objectKey) {
      await expectOk('mts_remove_pending_upload', [objectKey]);
    },

    async purge(subject, throughSequence, signal) {
      const through = throughSequence?.toString() ?? ((await expectOk('mts_last_sequence', [subject], signal)).last as string);
      let purged = 0;
      for (;;) {
        const outcome = await expectOk('mts_delete_through', [subject, through, purgeBatch], signal);
        purged += outcome.deleted as number;
        if (outcome.more !== true) return purged;
      }
    },

    async setRetentionPolicy(policy, signal) {
      const { pattern, maxAgeMs, maxMessages, maxBytes, maxMessageBytes, discard, retention } = policy;
      const limits = [maxAgeMs, maxMessages, maxBytes, maxMessageBytes].map(String);
      await expectOk('mts_set_retention', [pattern, ...limits, discard, retention], signal);
    },

    async storageStats(signal) {
      const outcome = await expectOk('mts_storage_stats', [], signal);
      const total = (field: string) => BigInt(outcome[field] as string);
      return {
        messages: total('messages'),
        bytes: total('bytes'),
        objects: total('objects'),
        expired: total('expired'),
        purged: total('purged'),
        memoryUsedPercent: outcome.memory_used_percent as number,
        policies: (outcome.policies as Array<{ pattern: string; messages: string; bytes: string; lag_ms: number }>)
          .map((policy) => ({
            pattern: policy.pattern,
            messages: BigInt(policy.messages),
            bytes: BigInt(policy.bytes),
            expiryLagMs: policy.lag_ms,
          }))
          .sort((a, b) => (a.pattern < b.pattern ? -1 : 1)),
      };
    },

    async listRetentionPolicies(signal) {
      return ((await expectOk('mts_list_retention', [], signal)).policies as PolicyColumns[]).map(policyFromColumns);
    },

    async retentionPolicyOf(subject, signal) {
      const found = (await expectOk('mts_retention_of', [subject], signal)).policy as PolicyColumns | null | undefined;
      return found ? policyFromColumns(found) : undefined;
    },

    async deleteRetentionPolicy(pattern, signal) {
      return (await expectOk('mts_delete_retention', [pattern], signal)).deleted === true;
    },

    async deletedObjects(limit) {
      return (await expectOk('mts_deleted_objects', [limit])).keys as string[];
    },

    async forgetDeletedObjects(keys) {
      if (keys.length > 0) await expectOk('mts_forget_deleted_objects', [keys]);
    },

    async checkHealth(): Promise<DependencyStatus> {
      try {
        await invoke('mts_ping', [], undefined, healthTimeoutMs);
        return { name: 'tarantool', ok: true, detail: 'ok' };
      } catch (error) {
        return { name: 'tarantool', ok: false, detail: error instanceof Error ? error.message : String(error) };
      }
    },

    close,
  };
}

/** The floor an ack procedure answered, or its refusal thrown. */
function ackedFloor(outcome: Outcome, procedure: string, sequence: bigint): bigint {
  if (outcome.code === 'ACK_BEYOND_END') throw new AckBeyondEndError(sequence, BigInt(outcome.last as string));
  if (!outcome.ok) throw new StoreError(`tarantool procedure ${procedure} failed with ${outcome.code}`);
  return BigInt(outcome.floor as string);
}

/**
 * A record as mts_commit's positional row. Inline bytes go as MessagePack bin:
 * the driver encodes a Buffer so, and a view over the payload copies nothing.
 */
function toWireRecord(record: MetadataRecord) {
  const { inline } = record;
  return [
    record.subject,
    record.timestampMs,
    record.headers,
    record.size,
    inline === null ? null : Buffer.from(inline.buffer, inline.byteOffset, inline.byteLength),
    record.objectKey,
  ];
}

/**
 * mts_commit answers the duplicates (1-based index, original sequence) and the
 * first sequence of each subject, in the order the subjects first appear among
 * the stored records; a subject's later stored records follow one by one, in
 * input order.
 */
function committedFrom(batch: MetadataRecord[], first: string[], duplicates: [number, string][]): CommittedRecord[] {
  const originals = new Map(duplicates.map(([index, sequence]) => [index - 1, BigInt(sequence)]));
  const next = new Map<string, bigint>();
  return batch.map(({ subject }, index): CommittedRecord => {
    const original = originals.get(index);
    if (original !== undefined) return { sequence: original, duplicate: true };
    const sequence = next.get(subject) ?? BigInt(first[next.size]!);
    next.set(subject, sequence + 1n);
    return { sequence };
  });
}

function fromWireChange(change: WireChange): StoreChange {
  if ('durable' in change) return { subject: change.subject, durable: change.durable, ackFloor: BigInt(change.floor) };
  if (change.consumer !== undefined) return { consumer: change.consumer };
  const commit = { subject: change.subject, lastSequence: BigInt(change.last) };
  if (change.after === undefined || change.rows === undefined) return commit;
  const carried = { after: BigInt(change.after), rows: change.rows.map((row) => fromWireRow(change.subject, row)) };
  return { ...commit, carried };
}

function fromWireSubject(row: WireSubject): SubjectStats {
  return {
    subject: row.subject,
    messages: BigInt(row.messages),
    bytes: BigInt(row.bytes),
    firstSequence: BigInt(row.first_sequence),
    lastSequence: BigInt(row.last_sequence),
    lastPublishMs: row.last_publish_ms === null || row.last_publish_ms === undefined ? undefined : Number(row.last_publish_ms),
  };
}

function fromWireConsumer(row: WireConsumer): ConsumerPosition {
  return { durable: row.durable, subject: row.subject, ackFloor: BigInt(row.ack_floor), lastSequence: BigInt(row.last_sequence) };
}
