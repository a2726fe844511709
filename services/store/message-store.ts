import type { Logger } from 'pino';
import { leaseMessages } from './lease-messages.js';
import { createGroupCommit, defaultGroupCommitLimits, type GroupCommitLimits } from './group-commit.js';
import { startOrphanSweeper } from './orphan-sweeper.js';
import type { PayloadBudget } from './payload-budget.js';
import { publishMessages } from './publish-messages.js';
import { firstPageSize, readMessages } from './read-messages.js';
import { sequenceAtTime } from './sequence-at-time.js';
import { setRetentionPolicy } from './retention-policies.js';
import { startRetentionWorker } from './retention-worker.js';
import {
  unlimitedRetention,
  type DependencyStatus,
  type MessageStore,
  type MetadataStore,
  type ObjectStore,
  type RetentionLimits,
} from './store.js';

export interface MessageStoreOptions {
  metadata: MetadataStore;
  objects: ObjectStore;
  /** Payloads up to this many bytes are stored in the metadata store. */
  inlineMaxBytes: number;
  /** Larger payloads are refused with MessageTooLargeError. */
  maxMessageBytes: number;
  logger?: Logger;
  /** Bounds the object payloads reads hold in memory (the services admit publish bodies against it too). */
  payloadBudget?: PayloadBudget;
  /** Payload objects fetched (and uploaded) concurrently at most; default 4. */
  fetchParallelism?: number;
  /** An upload not committed within this time is an orphan; default 1 hour. */
  orphanGraceMs?: number;
  /** How often orphans are looked for; default 60 s. */
  sweepIntervalMs?: number;
  /** The default retention policy, written to the store at start; default unlimited. */
  defaultRetention?: RetentionLimits;
  /** How often the object keys of deleted messages are drained from the store's queue; default 1 s. */
  retentionIntervalMs?: number;
  /** Bounds of one merged metadata commit; see group-commit.ts. */
  groupCommit?: GroupCommitLimits;
  /** How long a `msg-id` is remembered per subject; default 2 minutes. */
  duplicateWindowMs?: number;
}

/**
 * Assembles the {@link MessageStore} the services use from a metadata half and
 * an object half, whichever backend they come from. It owns what is the same
 * for every backend: the inline-or-object decision, upload-then-commit
 * ordering, group commit, paced payload fetching, the orphan sweep and the
 * service's half of retention. `close()` stops both workers and closes both halves.
 */
export function createMessageStore(options: MessageStoreOptions): MessageStore {
  const { metadata, objects, inlineMaxBytes, maxMessageBytes, logger } = options;
  const fetchParallelism = options.fetchParallelism ?? 4;
  const orphanGraceMs = options.orphanGraceMs ?? 60 * 60 * 1000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 60 * 1000;
  if (!Number.isInteger(inlineMaxBytes) || inlineMaxBytes < 0) throw new RangeError('inlineMaxBytes must be an integer >= 0');
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 0) throw new RangeError('maxMessageBytes must be an integer >= 0');
  if (!Number.isInteger(fetchParallelism) || fetchParallelism < 1) throw new RangeError('fetchParallelism must be an integer >= 1');
  if (!(orphanGraceMs > 0) || !(sweepIntervalMs > 0)) throw new RangeError('orphanGraceMs and sweepIntervalMs must be > 0');

  const sweeper = startOrphanSweeper({ metadata, objects, graceMs: orphanGraceMs, intervalMs: sweepIntervalMs, logger });
  const retention = startRetentionWorker({
    metadata,
    objects,
    defaultRetention: options.defaultRetention ?? unlimitedRetention,
    intervalMs: options.retentionIntervalMs ?? 1000,
    logger,
  });
  const groupCommit = createGroupCommit(metadata, options.groupCommit ?? defaultGroupCommitLimits, options.duplicateWindowMs);
  const publishDeps = {
    metadata,
    objects,
    groupCommit,
    inlineMaxBytes,
    maxMessageBytes,
    uploadParallelism: fetchParallelism,
    orphanGraceMs,
    logger,
  };
  const readDeps = { metadata, objects, fetchParallelism, payloadBudget: options.payloadBudget, logger };
  let closing: Promise<void> | undefined;

  return {
    publish: (batch, signal, order) => publishMessages(publishDeps, batch, signal, order),
    onCommit: (listener) => groupCommit.onCommit(listener),
    read: (subject, afterSequence, limits, signal) => readMessages(readDeps, subject, afterSequence, limits, signal),
    lastSequence: (subject, signal) => metadata.lastSequence(subject, signal),
    sequenceAtTime: (subject, timeMs, signal) => sequenceAtTime(metadata, subject, timeMs, signal),
    ackFloor: (durable, subject, signal) => metadata.ackFloor(durable, subject, signal),
    ack: (durable, subject, sequence, signal) => metadata.ack(durable, subject, sequence, signal),
    async readFromAckFloor(durable, subject, limits, signal) {
      const page = await metadata.readFromAckFloor(durable, subject, firstPageSize(limits), signal);
      if (page === 'configured') return page;
      const { ackFloor, rows } = page;
      return { ackFloor, messages: readMessages(readDeps, subject, ackFloor, limits, signal, rows) };
    },
    ackUnconfigured: (durable, subject, sequence, signal) => metadata.ackUnconfigured(durable, subject, sequence, signal),
    claimConsumer: (durable, subject, owner, signal) => metadata.claimConsumer(durable, subject, owner, signal),
    lastSequences: (subjects, signal) => metadata.lastSequences(subjects, signal),
    waitForChanges: (cursor, timeoutMs, signal, carry) => metadata.waitForChanges(cursor, timeoutMs, signal, carry),
    listSubjects: (signal) => metadata.listSubjects(signal),
    subjectStats: (subject, signal) => metadata.subjectStats(subject, signal),
    listConsumers: (subject, signal) => metadata.listConsumers(subject, signal),
    consumerPosition: (durable, subject, signal) => metadata.consumerPosition(durable, subject, signal),
    resetConsumer: (durable, subject, sequence, signal) => metadata.resetConsumer(durable, subject, sequence, signal),
    purge: (subject, through, signal) => metadata.purge(subject, through, signal),
    setRetentionPolicy: (policy, signal) => setRetentionPolicy(metadata, policy, signal),
    storageStats: (signal) => metadata.storageStats(signal),
    listRetentionPolicies: (signal) => metadata.listRetentionPolicies(signal),
    retentionPolicyOf: (subject, signal) => metadata.retentionPolicyOf(subject, signal),
    deleteRetentionPolicy: (pattern, signal) => metadata.deleteRetentionPolicy(pattern, signal),
    createConsumer: (config, nowMs, signal) => metadata.createConsumer(config, nowMs, signal),
    updateConsumer: (config, signal) => metadata.updateConsumer(config, signal),
    deleteConsumer: (durable, signal) => metadata.deleteConsumer(durable, signal),
    consumerRecord: (durable, signal) => metadata.consumerRecord(durable, signal),
    listConsumerRecords: (signal) => metadata.listConsumerRecords(signal),
    startConsumerSubjects: (durable, starts, signal) => metadata.startConsumerSubjects(durable, starts, signal),
    lease: (durable, subjects, limits, nowMs, signal) => leaseMessages(readDeps, durable, subjects, limits, nowMs, signal),
    settle: (durable, settlements, nowMs, signal) => metadata.settle(durable, settlements, nowMs, signal),
    consumerStats: (durable, signal) => metadata.consumerStats(durable, signal),
    redrive: (subject, from, to, limit, signal) => metadata.redrive(subject, from, to, limit, signal),

    checkHealth: () => Promise.all([healthOf(metadata), healthOf(objects)]),

    close() {
      closing ??= (async () => {
        await Promise.all([sweeper.stop(), retention.stop()]);
        const results = await Promise.allSettled([metadata.close(), objects.close()]);
        const failed = results.find((result) => result.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return closing;
    },
  };
}

async function healthOf(half: MetadataStore | ObjectStore): Promise<DependencyStatus> {
  try {
    return await half.checkHealth();
  } catch (error) {
    return { name: half.name, ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}
