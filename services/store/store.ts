/**
 * The storage contract. The services talk to a {@link MessageStore}; it is
 * assembled from a {@link MetadataStore} (Tarantool or embedded SQLite) that
 * owns sequences, messages and ack floors, and an {@link ObjectStore} (S3/MinIO
 * or a local folder) that holds large payloads. This file imports no backend.
 *
 * Sequences are `bigint` everywhere: they are uint64 on the wire.
 */
import type { ConsumerChange, ConsumerStore, MessageLease } from './consumers.js';
import type { PublishOrder } from './publish-order.js';

export type { PublishOrder };

/** One message as a publisher hands it in. */
export interface PublishMessage {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
}

/** What a publish gave each message, in input order. */
export interface PublishResult {
  sequence: bigint;
  /** Object-store key of a large payload; `""` when stored inline (and for a duplicate). */
  objectName: string;
  /** Set when the message repeated a `msg-id` inside the duplicate window: nothing was stored, `sequence` is the original's. */
  duplicate?: true;
}

/** Header naming a message for deduplication: a repeat within the duplicate window is stored once per subject. */
export const msgIdHeader = 'msg-id';
/** Header of optimistic concurrency: the publish is refused unless the subject's last sequence equals it. */
export const expectedLastSequenceHeader = 'expected-last-sequence';
/** How long a `msg-id` is remembered by default: 2 minutes. */
export const defaultDuplicateWindowMs = 2 * 60 * 1000;

/** What a metadata commit gave one record: a new sequence, or the original's for a duplicate. */
export interface CommittedRecord {
  sequence: bigint;
  duplicate?: true;
}

/** One metadata commit: how many publish batches it merged and how many messages they held. */
export interface CommitStats {
  batches: number;
  messages: number;
}

/** A committed message as Fetch delivers it. */
export interface StoredMessage {
  subject: string;
  sequence: bigint;
  /** Commit time, milliseconds since the epoch. */
  timestampMs: number;
  headers: Record<string, string>;
  data: Uint8Array;
}

/** A durable's ack floor and the messages after it. */
export interface FloorRead {
  ackFloor: bigint;
  messages: AsyncIterable<StoredMessage>;
}

/** A durable's ack floor and the first rows after it, read together. */
export interface FloorPage {
  ackFloor: bigint;
  rows: MetadataRow[];
}

/** Bounds of one read: at least one message is returned if any exists. */
export interface ReadLimits {
  maxMessages: number;
  /** Payload bytes; a single larger message is still returned alone. */
  maxBytes: number;
}

/** Reachability of one dependency, for /readyz and grpc.health.v1. */
export interface DependencyStatus {
  name: string;
  ok: boolean;
  /** Human-readable reason when not ok, `"ok"` otherwise. */
  detail: string;
}

/** A commit raised the subject's last sequence to `lastSequence`. */
export interface CommitChange {
  subject: string;
  lastSequence: bigint;
  /** The commit's messages, when the waiter asked for them and they fit; see {@link CarriedRows}. */
  carried?: CarriedRows;
}

/**
 * The subject's stored rows after `after` up to the change's last sequence,
 * exactly as `readAfter(subject, after)` would return them when the feed
 * answered: all inline, so a consumer at `after` or beyond can deliver them
 * without reading the store again.
 */
export interface CarriedRows {
  after: bigint;
  rows: MetadataRow[];
}

/** A commit of more messages than this carries none of them (the feed answer stays small to build). */
export const carriedMessagesMax = 1000;

/** Which commits a change feed answer carries the messages of; see {@link carriedMessagesMax}. */
export interface CarryRequest {
  /** Payload bytes per answer in all; a change that does not fit whole carries nothing. */
  bytes: number;
  /** Only commits of these subjects; every subject's when absent. */
  subjects?: string[];
}

/** An ack moved the floor of (durable, subject) up to `ackFloor`. */
export interface AckChange {
  subject: string;
  durable: string;
  ackFloor: bigint;
}

export type StoreChange = CommitChange | AckChange | ConsumerChange;

/** One answer of {@link MessageStore.waitForChanges}. */
export interface ChangeBatch {
  /** Where the next call goes on from. */
  cursor: string;
  /** What changed, oldest first; `resync` when the feed cannot tell. */
  changes: StoreChange[] | 'resync';
}

/** What a subject holds, from counters kept at commit (no message is read to answer). */
export interface SubjectStats {
  subject: string;
  /** Messages stored now (retention may have deleted older ones). */
  messages: bigint;
  /** Payload bytes of those messages. */
  bytes: bigint;
  /** Lowest stored sequence; 0n when none is stored. */
  firstSequence: bigint;
  lastSequence: bigint;
  /** Commit time of the last message, milliseconds since the epoch; undefined when it is not stored. */
  lastPublishMs: number | undefined;
}

/** Store-wide totals: stored now, and deleted so far by expiry and by purges. */
export interface StorageStats {
  messages: bigint;
  /** Payload bytes of the stored messages. */
  bytes: bigint;
  /** Payload objects the stored messages name, each once however many messages share it. */
  objects: bigint;
  expired: bigint;
  purged: bigint;
  /** Percent of the store's memory in use, where memory bounds it (Tarantool memtx); undefined otherwise. */
  memoryUsedPercent?: number;
  /** Percent of the disk in use, where a disk bounds it (the embedded store); undefined otherwise. */
  diskUsedPercent?: number;
  /** Per retention policy in force for at least one subject, ordered by pattern. */
  policies: PolicyStorage[];
}

/** What the subjects under one retention policy hold, and how far its expiry is behind. */
export interface PolicyStorage {
  pattern: string;
  messages: bigint;
  bytes: bigint;
  /**
   * How long ago the oldest message that the policy's max_age or max_messages
   * deletes became due (its age past max_age, or the time since the commit
   * that put its subject over max_messages); 0 when none is due. max_bytes and
   * interest are left out: when they became due is not recorded.
   */
  expiryLagMs: number;
}

/** A durable consumer's position on one subject. */
export interface ConsumerPosition {
  durable: string;
  subject: string;
  ackFloor: bigint;
  /** The subject's last sequence, so `lastSequence - ackFloor` messages are pending. */
  lastSequence: bigint;
}

/**
 * Limits of a retention policy; 0 means unlimited. The oldest messages of a
 * subject are deleted while any limit is exceeded.
 */
export interface RetentionLimits {
  /** Messages older than this (by commit time) are deleted. */
  maxAgeMs: number;
  maxMessages: number;
  /** Payload bytes of the subject's stored messages. */
  maxBytes: number;
}

export const unlimitedRetention: Readonly<RetentionLimits> = Object.freeze({ maxAgeMs: 0, maxMessages: 0, maxBytes: 0 });

/** What a subject at its count or bytes limit does: drop its oldest messages, or refuse new ones. */
export type Discard = 'old' | 'new';

/**
 * The retention policy of the subjects `pattern` matches (`*` one token, a
 * final `>` the rest; the most specific pattern wins). The pattern `>` is the
 * default policy, which the services write from their environment.
 */
export interface RetentionPolicy extends RetentionLimits {
  pattern: string;
  /** A larger message is refused; 0 means unlimited. */
  maxMessageBytes: number;
  discard: Discard;
  /** `interest` also deletes what every durable consumer of the subject acknowledged (once it has one). */
  retention: RetentionKind;
}

export type RetentionKind = 'limits' | 'interest';

/** The pattern of the default policy, which covers every subject no other pattern matches. */
export const defaultPolicyPattern = '>';

/** Read-only views and one administrative write, for the inspection RPCs. */
export interface Inspection {
  /** Every subject with at least one commit, ordered by name. */
  listSubjects(signal?: AbortSignal): Promise<SubjectStats[]>;
  /** One subject; undefined when nothing was ever published on it. */
  subjectStats(subject: string, signal?: AbortSignal): Promise<SubjectStats | undefined>;
  /** Every durable consumer, or those of one subject, ordered by durable then subject. */
  listConsumers(subject: string | undefined, signal?: AbortSignal): Promise<ConsumerPosition[]>;
  /** One consumer; undefined when it has never acknowledged anything. */
  consumerPosition(durable: string, subject: string, signal?: AbortSignal): Promise<ConsumerPosition | undefined>;
  /**
   * Sets the ack floor to `sequence`, down as well as up (the consumer sees
   * again everything after it), creating the consumer if needed. Throws
   * {@link AckBeyondEndError} past the last sequence.
   */
  resetConsumer(durable: string, subject: string, sequence: bigint, signal?: AbortSignal): Promise<ConsumerPosition>;
  /**
   * Deletes the subject's messages up to `throughSequence` (all of them when
   * undefined), a short transaction per batch, and returns how many. Their
   * objects follow through the deleted-objects queue; sequences are never reused.
   */
  purge(subject: string, throughSequence: bigint | undefined, signal?: AbortSignal): Promise<number>;
  /**
   * Creates or replaces the policy of its pattern. Throws
   * {@link RetentionPolicyConflictError} when another pattern is as specific
   * and some subject matches both (which would win would be arbitrary).
   */
  setRetentionPolicy(policy: RetentionPolicy, signal?: AbortSignal): Promise<void>;
  /** What the whole store holds and has deleted, from counters kept with the data. */
  storageStats(signal?: AbortSignal): Promise<StorageStats>;
  /** Every retention policy, ordered by pattern. */
  listRetentionPolicies(signal?: AbortSignal): Promise<RetentionPolicy[]>;
  /** The policy in force for `subject`; undefined when none matches. */
  retentionPolicyOf(subject: string, signal?: AbortSignal): Promise<RetentionPolicy | undefined>;
  /** Deletes the policy of `pattern`; false when there was none. */
  deleteRetentionPolicy(pattern: string, signal?: AbortSignal): Promise<boolean>;
}

/** The store the services use. Every method may throw the errors below. */
export interface MessageStore extends Inspection, Omit<ConsumerStore, 'lease'> {
  /** {@link ConsumerStore.lease} with the payloads read (see consumers.ts). */
  lease(durable: string, subjects: string[], limits: ReadLimits, nowMs: number, signal?: AbortSignal): Promise<MessageLease>;
  /**
   * Commits a batch atomically: each message gets the next gapless sequence of
   * its subject, in input order. Large payloads are written to the object
   * store before the metadata commit, so metadata never names a missing object.
   * Publishes that share an `order` are committed in the order of the calls,
   * even when an earlier one waits for uploads (see {@link PublishOrder}).
   * Concurrent publishes may share one metadata commit (group commit); each
   * batch stays atomic. A message repeating a `msg-id` inside the duplicate
   * window stores nothing and answers the original sequence with `duplicate`;
   * an `expected-last-sequence` the subject has passed refuses the batch with
   * {@link ExpectedLastSequenceError} (see {@link MetadataStore.commit}).
   */
  publish(batch: PublishMessage[], signal?: AbortSignal, order?: PublishOrder): Promise<PublishResult[]>;
  /**
   * Calls `listener` after every metadata commit with what it carried, for
   * metrics. Returns a function that removes the listener.
   */
  onCommit(listener: (commit: CommitStats) => void): () => void;
  /** Messages with sequence > afterSequence, in order, read lazily. */
  read(subject: string, afterSequence: bigint, limits: ReadLimits, signal?: AbortSignal): AsyncIterable<StoredMessage>;
  /**
   * Fetch's read of a durable never configured, its first page in the same
   * store call as the checks: `'configured'` when `durable` is a configured
   * consumer; else its ack floor on `subject` and the messages after it, as
   * {@link read} yields them.
   */
  readFromAckFloor(durable: string, subject: string, limits: ReadLimits, signal?: AbortSignal): Promise<FloorRead | 'configured'>;
  /** {@link ack} in one store call with the check: `'configured'`, and nothing changes, when `durable` is a configured consumer. */
  ackUnconfigured(durable: string, subject: string, sequence: bigint, signal?: AbortSignal): Promise<bigint | 'configured'>;
  /** Highest committed sequence of the subject; 0n if none. */
  lastSequence(subject: string, signal?: AbortSignal): Promise<bigint>;
  /**
   * The first sequence committed at or after `timeMs` (see sequence-at-time.ts);
   * lastSequence + 1 when all are older, 0n when the subject stores nothing.
   */
  sequenceAtTime(subject: string, timeMs: number, signal?: AbortSignal): Promise<bigint>;
  /** The durable consumer's ack floor; 0n for a new consumer. */
  ackFloor(durable: string, subject: string, signal?: AbortSignal): Promise<bigint>;
  /**
   * Moves the ack floor to `sequence` if that is higher (an older ack is a
   * no-op) and returns the floor. Throws {@link AckBeyondEndError} past the last sequence.
   */
  ack(durable: string, subject: string, sequence: bigint, signal?: AbortSignal): Promise<bigint>;
  /**
   * Records `owner` for (durable, subject) if it has none, atomically, and
   * returns whether the recorded owner equals `owner`. The first claim wins
   * and an owner never changes, so a true answer stays true.
   */
  claimConsumer(durable: string, subject: string, owner: string, signal?: AbortSignal): Promise<boolean>;
  /** Last sequences of many subjects in one round trip, in input order. */
  lastSequences(subjects: string[], signal?: AbortSignal): Promise<bigint[]>;
  /**
   * The change feed of the whole store: resolves with what changed after
   * `cursor` as soon as anything does, or with no changes after `timeoutMs`.
   * One waiting call covers every subject and consumer, so a process needs
   * only one. Answers `resync` at once for the cursor `""` and whenever the
   * feed cannot tell what changed since `cursor` (too far behind, the store
   * restarted, another process wrote the same database): the caller then
   * re-reads what it watches and goes on from the returned cursor.
   *
   * With `carry`, commit changes whose messages are all inline carry them
   * ({@link CommitChange.carried}); see {@link CarryRequest}.
   */
  waitForChanges(cursor: string, timeoutMs: number, signal?: AbortSignal, carry?: CarryRequest): Promise<ChangeBatch>;
  /** One entry per dependency (metadata, objects). Never throws. */
  checkHealth(): Promise<DependencyStatus[]>;
  close(): Promise<void>;
}

/** Metadata of one message to commit: either inline data or an object key. */
export interface MetadataRecord {
  subject: string;
  timestampMs: number;
  headers: Record<string, string>;
  /** Payload length in bytes, inline or not. */
  size: number;
  /** The payload when stored inline, else null. */
  inline: Uint8Array | null;
  /** Object key when the payload lives in the object store, else `""`. */
  objectKey: string;
}

/** A committed metadata row. */
export interface MetadataRow extends MetadataRecord {
  sequence: bigint;
}

/** The metadata half of a backend: sequences, messages, consumers, pending uploads. */
export interface MetadataStore extends Inspection, ConsumerStore {
  /** Human-readable name for health reports, e.g. "tarantool". */
  readonly name: string;
  /**
   * Commits the batch in one transaction and returns what each record got, in
   * input order. Every non-empty objectKey must have a live pending-upload entry,
   * which the commit removes; otherwise {@link UploadExpiredError} and nothing is committed.
   *
   * Decided inside the transaction, so concurrent commits from any process agree:
   * a record whose `msg-id` header names a message of its subject committed less
   * than its window ago (earlier in the same batch included) is a duplicate:
   * it stores nothing and answers the original sequence. A record with an
   * `expected-last-sequence` header other than its subject's last sequence
   * (after the batch's earlier records) fails the commit with
   * {@link ExpectedLastSequenceError} and nothing is committed. A `msg-id` is
   * remembered for `duplicateWindowMs` after its commit (default
   * {@link defaultDuplicateWindowMs}); expired entries are removed a bounded
   * number per commit.
   */
  commit(batch: MetadataRecord[], signal?: AbortSignal, duplicateWindowMs?: number): Promise<CommittedRecord[]>;
  /** Up to `limit` rows with sequence > afterSequence, ascending. */
  readAfter(subject: string, afterSequence: bigint, limit: number, signal?: AbortSignal): Promise<MetadataRow[]>;
  lastSequence(subject: string, signal?: AbortSignal): Promise<bigint>;
  ackFloor(durable: string, subject: string, signal?: AbortSignal): Promise<bigint>;
  /** See {@link MessageStore.ack}. */
  ack(durable: string, subject: string, sequence: bigint, signal?: AbortSignal): Promise<bigint>;
  /**
   * One read, consistent in itself: `'configured'` when `durable` is a
   * configured consumer; else its ack floor on `subject` and up to `limit` rows after it.
   */
  readFromAckFloor(durable: string, subject: string, limit: number, signal?: AbortSignal): Promise<FloorPage | 'configured'>;
  /** See {@link MessageStore.ackUnconfigured}. */
  ackUnconfigured(durable: string, subject: string, sequence: bigint, signal?: AbortSignal): Promise<bigint | 'configured'>;
  /** See {@link MessageStore.claimConsumer}. */
  claimConsumer(durable: string, subject: string, owner: string, signal?: AbortSignal): Promise<boolean>;
  /** See {@link MessageStore.lastSequences}. */
  lastSequences(subjects: string[], signal?: AbortSignal): Promise<bigint[]>;
  /** See {@link MessageStore.waitForChanges}. */
  waitForChanges(cursor: string, timeoutMs: number, signal?: AbortSignal, carry?: CarryRequest): Promise<ChangeBatch>;
  /** Records an object key about to be written, so an upload never committed can be swept. */
  addPendingUpload(objectKey: string, createdAtMs: number): Promise<void>;
  /** Pending keys created before `olderThanMs`, at most `limit`. */
  listStalePendingUploads(olderThanMs: number, limit: number): Promise<string[]>;
  /** Forgets a pending key (after its orphan object was deleted). */
  removePendingUpload(objectKey: string): Promise<void>;
  /*
   * Retention: setRetentionPolicy stores a policy without the tie check
   * (MessageStore does it) and has the store's expiry worker apply it. Expiry
   * deletes metadata first and queues the object keys of deleted messages in
   * the same transaction (see deletedObjects). Commits refuse what a policy
   * forbids with RetentionLimitError.
   */
  /** Up to `limit` object keys of deleted messages whose objects may still exist. */
  deletedObjects(limit: number): Promise<string[]>;
  /** Forgets queued keys once their objects are removed. */
  forgetDeletedObjects(keys: string[]): Promise<void>;
  checkHealth(): Promise<DependencyStatus>;
  close(): Promise<void>;
}

/** The payload half of a backend: whole objects by key. */
export interface ObjectStore {
  readonly name: string;
  put(key: string, data: Uint8Array, contentType: string, signal?: AbortSignal): Promise<void>;
  /**
   * Throws {@link ObjectMissingError} when the key does not exist.
   * `expectedBytes` (the size the metadata records) lets a remote store allow the transfer time.
   */
  get(key: string, signal?: AbortSignal, expectedBytes?: number): Promise<Uint8Array>;
  /** Deleting a missing key is not an error. */
  remove(key: string): Promise<void>;
  checkHealth(): Promise<DependencyStatus>;
  close(): Promise<void>;
}

/** Base class: every store error carries the failed operation for logs. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** A dependency (Tarantool, object store, database file) cannot be reached; retryable. */
export class StoreUnavailableError extends StoreError {
  override name = 'StoreUnavailableError';
}

/** A message exceeds a configured size limit. */
export class MessageTooLargeError extends StoreError {
  override name = 'MessageTooLargeError';
}

/** Payload bytes in flight stayed at the process's bound for the whole wait; retry later. */
export class PayloadBudgetExceededError extends StoreError {
  override name = 'PayloadBudgetExceededError';
}

/** An ack names a sequence the subject has not reached yet. */
export class AckBeyondEndError extends StoreError {
  override name = 'AckBeyondEndError';
  constructor(
    readonly sequence: bigint,
    readonly lastSequence: bigint,
  ) {
    super(`ack of sequence ${sequence} is past the last sequence ${lastSequence}`);
  }
}

/** A publish would break a retention limit of its subject's policy; nothing of its batch is committed. */
export class RetentionLimitError extends StoreError {
  override name = 'RetentionLimitError';
  constructor(
    /** The limit's name as policies spell it: max_messages, max_bytes or max_message_bytes. */
    readonly limit: string,
    message: string,
    /** Position in the committed records of the one refused, when the backend named it. */
    readonly recordIndex?: number,
  ) {
    super(message);
  }

  static of(limit: string, value: string, pattern: string, subject: string, recordIndex?: number): RetentionLimitError {
    const what = limit === 'max_message_bytes' ? `a message on ${subject} is larger than` : `subject ${subject} is full:`;
    return new RetentionLimitError(limit, `${what} ${limit} = ${value} (retention policy "${pattern}")`, recordIndex);
  }
}

/** The store is too full to take more messages; deletes, acks and reads still work. */
export class StoreFullError extends StoreError {
  override name = 'StoreFullError';
}

/** A new policy's pattern ties with an existing one: as specific, and some subject matches both. */
export class RetentionPolicyConflictError extends StoreError {
  override name = 'RetentionPolicyConflictError';
}

/** A commit referenced an object key whose pending entry was already swept. */
export class UploadExpiredError extends StoreError {
  override name = 'UploadExpiredError';
  /** The key the commit refused, when the backend named it: tells which of merged batches failed. */
  constructor(
    message: string,
    readonly objectKey?: string,
  ) {
    super(message);
  }
}

/** A record's `expected-last-sequence` did not match its subject's last sequence; nothing was committed. */
export class ExpectedLastSequenceError extends StoreError {
  override name = 'ExpectedLastSequenceError';
  /** `index` is the refused record's position in the committed batch: tells which of merged batches failed. */
  constructor(
    readonly subject: string,
    readonly expected: bigint,
    readonly lastSequence: bigint,
    readonly index: number,
  ) {
    super(`subject ${subject} is at sequence ${lastSequence}, not the expected last sequence ${expected}`);
  }
}

/** An object key is not in the object store. */
export class ObjectMissingError extends StoreError {
  override name = 'ObjectMissingError';
}

/** The store was closed; no further calls are possible. */
export class StoreClosedError extends StoreError {
  override name = 'StoreClosedError';
}
