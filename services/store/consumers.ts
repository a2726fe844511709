/**
 * Configured consumers: the part of the storage contract that lets many
 * workers share one durable. A configured consumer owns, per subject its
 * filters match, a position (ack floor and highest delivered sequence) and a
 * set of leases: messages delivered and not yet settled. Leases live in the
 * store, so a worker or egress that dies loses nothing: its leases expire and
 * the next {@link ConsumerStore.lease} call hands the messages to another
 * worker. Durables never configured keep the cumulative ack floor of
 * `MetadataStore.ack` and are untouched by everything here.
 */
import { isDeepStrictEqual } from 'node:util';
import { StoreError, type MetadataRow, type ReadLimits, type StoredMessage } from './store.js';

export type AckPolicy = 'all' | 'explicit';

/** Where a subject's position starts when the consumer first leases from it. */
export type DeliverPolicy =
  | { kind: 'all' }
  /** What is committed after the consumer's creation. */
  | { kind: 'new' }
  /** The last message of the subject at creation, then everything after. */
  | { kind: 'last' }
  | { kind: 'sequence'; sequence: bigint }
  /** From the first message committed at or after `timeMs`. */
  | { kind: 'time'; timeMs: number };

export interface ConsumerConfig {
  durable: string;
  /** Subjects or NATS wildcards (`*` one token, `>` the rest); at least one, none overlapping. */
  filterSubjects: string[];
  ackPolicy: AckPolicy;
  /** Lease of a delivery when `backoffMs` does not say otherwise. */
  ackWaitMs: number;
  /** Deliveries of one message at most; 0 unlimited. */
  maxDeliver: number;
  /** Lease of the n-th delivery (the last entry for later ones); needs maxDeliver > its length. */
  backoffMs: number[];
  /** Leases of the consumer at most, over all its streams. */
  maxAckPending: number;
  deliver: DeliverPolicy;
  /** Subject that receives messages past maxDeliver or terminated; `""` drops them. */
  deadLetterSubject: string;
}

export const defaultAckWaitMs = 30_000;
export const defaultMaxAckPending = 1000;

/** A stored configuration and what the store counts for it. */
export interface ConsumerRecord {
  config: ConsumerConfig;
  /** Creation time, milliseconds since the epoch: `new` and `last` deliver policies are relative to it. */
  createdMs: number;
}

/** A subject the consumer starts on, and the sequence after which it starts. */
export interface SubjectStart {
  subject: string;
  startAfter: bigint;
}

/** A message handed to a worker under a lease. */
export interface LeasedRow extends MetadataRow {
  /** 1 on first delivery. */
  deliveryCount: number;
}

/** What one {@link ConsumerStore.lease} call did. */
export interface LeaseOutcome {
  /** Redeliveries first (oldest lease first), then new messages subject by subject in sequence order. */
  rows: LeasedRow[];
  /** Messages that ran out of deliveries in this call and went to the dead-letter subject (or were dropped). */
  deadLettered: number;
  /** Earliest expiry of the consumer's remaining leases (ms since the epoch), when it has any: the next redelivery. */
  nextExpiryMs: number | undefined;
}

export type SettleKind = 'ack' | 'nak' | 'progress' | 'term';

export interface Settlement {
  subject: string;
  sequence: bigint;
  kind: SettleKind;
  /** nak: the message is leasable again this long from now (0: at once). */
  delayMs: number;
  /** When set, nak/progress/term of another delivery than the current one are ignored; ack always counts. */
  deliveryCount: number | undefined;
}

/** `applied`, or why nothing changed: no lease on it (settled before, dead-lettered, never delivered) or an older delivery named. */
export type SettleOutcome = 'applied' | 'not_pending' | 'stale';

/** A configured consumer's position on one subject. */
export interface ConsumerSubjectPosition {
  subject: string;
  /** Every sequence up to it is settled. */
  ackFloor: bigint;
  /** Highest sequence delivered. */
  delivered: bigint;
  lastSequence: bigint;
}

/** What {@link ConsumerStore.consumerStats} reports: counters kept with the data. */
export interface ConsumerStats {
  record: ConsumerRecord;
  positions: ConsumerSubjectPosition[];
  /** Deliveries made, redeliveries included. */
  delivered: bigint;
  /** Leases held now. */
  ackPending: number;
  /** Of the leases, those on a message delivered more than once. */
  redelivered: number;
  deadLettered: bigint;
  /** Commit time of the oldest message not yet settled (across subjects); undefined when none is. */
  oldestUnackedMs: number | undefined;
}

// In a file of their own, which the dashboard's bundle can import without the rest of this one.
export { deadLetterHeaders, deliveryCountHeader } from './consumer-headers.js';

/** Why a message became a dead letter. */
export type DeadLetterReason = 'max_deliver' | 'term';

/**
 * The consumer half of a metadata store. Every write is one store
 * transaction, so concurrent callers in any process agree. Dead letters are
 * committed like publishes (next sequence of the dead-letter subject, retention
 * of its policy, change feed) in the transaction that settles the message;
 * an object-stored payload is shared by reference, so deleting either
 * message keeps the object while the other still names it.
 */
export interface ConsumerStore {
  /**
   * Stores a new configuration; the same configuration again returns the
   * stored record unchanged. Throws {@link ConsumerConflictError} when a
   * different one exists.
   */
  createConsumer(config: ConsumerConfig, nowMs: number, signal?: AbortSignal): Promise<ConsumerRecord>;
  /** Replaces the configuration. Throws ConsumerNotFoundError, or ConsumerConflictError when ackPolicy or deliver changes. */
  updateConsumer(config: ConsumerConfig, signal?: AbortSignal): Promise<ConsumerRecord>;
  /** Removes configuration, positions and leases; false when it did not exist. */
  deleteConsumer(durable: string, signal?: AbortSignal): Promise<boolean>;
  consumerRecord(durable: string, signal?: AbortSignal): Promise<ConsumerRecord | undefined>;
  /** Every configured consumer, ordered by name. */
  listConsumerRecords(signal?: AbortSignal): Promise<ConsumerRecord[]>;
  /** Creates the position of each subject that has none, at `startAfter` (delivered = ackFloor = startAfter). Throws ConsumerNotFoundError. */
  startConsumerSubjects(durable: string, starts: SubjectStart[], signal?: AbortSignal): Promise<void>;
  /**
   * Leases up to `limits.maxMessages` messages to a worker (and payload bytes
   * up to `limits.maxBytes`, a single larger message alone), fewer when
   * maxAckPending leases are held. Only the given subjects count (a worker
   * never holds what it may not receive): first their messages whose lease
   * expired by `nowMs` (delivery count + 1; one past maxDeliver is
   * dead-lettered instead, reason `max_deliver`), then their messages after
   * `delivered`, for those that have a position (in the order given). A lease lasts backoff[deliveries-1] (clamped to its
   * last entry) or ackWait. Throws ConsumerNotFoundError.
   */
  lease(durable: string, subjects: string[], limits: ReadLimits, nowMs: number, signal?: AbortSignal): Promise<LeaseOutcome>;
  /**
   * Applies settlements in order, one outcome each. ack: the lease ends (for
   * ackPolicy `all`, every lease of the subject up to the sequence), and the
   * floor rises past every settled sequence. nak: leasable again at
   * now + delayMs. progress: the lease restarts with its full length. term:
   * the lease ends and the message is dead-lettered with reason `term`.
   * Throws ConsumerNotFoundError.
   */
  settle(durable: string, settlements: Settlement[], nowMs: number, signal?: AbortSignal): Promise<SettleOutcome[]>;
  /** Undefined when the consumer is not configured. */
  consumerStats(durable: string, signal?: AbortSignal): Promise<ConsumerStats | undefined>;
  /**
   * Moves dead letters of `deadLetterSubject` with sequence in [from, to] back
   * to their original subjects (new sequences, the original headers without
   * the dead-letter ones, payload shared) and deletes them, at most `limit`
   * per call in one transaction. Returns how many moved and the last sequence
   * examined (0n when none); a caller loops until it moves none.
   */
  redrive(
    deadLetterSubject: string,
    from: bigint,
    to: bigint,
    limit: number,
    signal?: AbortSignal,
  ): Promise<{ moved: number; lastExamined: bigint }>;
}

/** A leased message with its payload, as Consume delivers it. */
export interface LeasedMessage extends StoredMessage {
  deliveryCount: number;
}

/** {@link LeaseOutcome} with payloads read from the object store. */
export interface MessageLease extends Omit<LeaseOutcome, 'rows'> {
  messages: LeasedMessage[];
}

/** Leases of a consumer changed (an ack, nak, term, delete): its waiting streams look again. */
export interface ConsumerChange {
  consumer: string;
}

export class ConsumerNotFoundError extends StoreError {
  override name = 'ConsumerNotFoundError';
  constructor(readonly durable: string) {
    super(`consumer ${durable} is not configured`);
  }
}

/** A create met a different configuration, or an update changed what cannot change. */
export class ConsumerConflictError extends StoreError {
  override name = 'ConsumerConflictError';
  constructor(
    readonly durable: string,
    /** Config field names (as in ConsumerConfig) that differ. */
    readonly fields: string[],
  ) {
    super(`consumer ${durable} exists with a different ${fields.join(', ')}`);
  }
}

/**
 * The stored form of a configuration, JSON text with the names of
 * {@link ConsumerConfig} (a start sequence as a decimal string): both backends
 * keep it as one opaque field, and Tarantool's procedures read their knobs
 * from it with `json.decode`.
 */
export function encodeConsumerConfig(config: ConsumerConfig): string {
  const deliver = config.deliver.kind === 'sequence' ? { kind: 'sequence', sequence: config.deliver.sequence.toString() } : config.deliver;
  return JSON.stringify({ ...config, deliver });
}

export function decodeConsumerConfig(text: string): ConsumerConfig {
  const stored = JSON.parse(text) as Omit<ConsumerConfig, 'deliver'> & { deliver: { kind: string; sequence?: string; timeMs?: number } };
  const { deliver } = stored;
  const decoded: DeliverPolicy =
    deliver.kind === 'sequence' ? { kind: 'sequence', sequence: BigInt(deliver.sequence ?? '0') } : (deliver as DeliverPolicy);
  return { ...stored, deliver: decoded };
}

/** Names of the config fields that differ between two configurations, for {@link ConsumerConflictError}. */
export function consumerConfigDifferences(stored: ConsumerConfig, wanted: ConsumerConfig): string[] {
  const fields = new Set([...Object.keys(stored), ...Object.keys(wanted)] as (keyof ConsumerConfig)[]);
  return [...fields].filter((field) => !isDeepStrictEqual(stored[field], wanted[field]));
}
