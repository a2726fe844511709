import type { MetadataStore, ObjectStore } from '../store/store.js';
import type { TestBackend } from './test-backend.js';

export interface BackendWrappers {
  metadata?: (inner: MetadataStore) => MetadataStore;
  objects?: (inner: ObjectStore) => ObjectStore;
}

/** `inner` with its halves passed through `wrappers`, e.g. to slow down or count calls. */
export function wrapBackend(inner: TestBackend, wrappers: BackendWrappers): TestBackend {
  return {
    name: inner.name,
    async open(t) {
      const opened = await inner.open(t);
      return {
        metadata: wrappers.metadata ? wrappers.metadata(opened.metadata) : opened.metadata,
        objects: wrappers.objects ? wrappers.objects(opened.objects) : opened.objects,
      };
    },
  };
}

/** Calls of waitForChanges: how many were made, and how many are still waiting. */
export interface WaitCounter {
  started: number;
  inFlight: number;
}

/** Counts waitForChanges calls on `inner`; every other method is delegated unchanged. */
export function countWaits(inner: MetadataStore, counter: WaitCounter): MetadataStore {
  return {
    name: inner.name,
    commit: (batch, signal, duplicateWindowMs) => inner.commit(batch, signal, duplicateWindowMs),
    readAfter: (subject, after, limit, signal) => inner.readAfter(subject, after, limit, signal),
    lastSequence: (subject, signal) => inner.lastSequence(subject, signal),
    ackFloor: (durable, subject, signal) => inner.ackFloor(durable, subject, signal),
    ack: (durable, subject, sequence, signal) => inner.ack(durable, subject, sequence, signal),
    readFromAckFloor: (durable, subject, limit, signal) => inner.readFromAckFloor(durable, subject, limit, signal),
    ackUnconfigured: (durable, subject, sequence, signal) => inner.ackUnconfigured(durable, subject, sequence, signal),
    claimConsumer: (durable, subject, owner, signal) => inner.claimConsumer(durable, subject, owner, signal),
    lastSequences: (subjects, signal) => inner.lastSequences(subjects, signal),
    async waitForChanges(cursor, timeoutMs, signal, carry) {
      counter.started++;
      counter.inFlight++;
      try {
        return await inner.waitForChanges(cursor, timeoutMs, signal, carry);
      } finally {
        counter.inFlight--;
      }
    },
    listSubjects: (signal) => inner.listSubjects(signal),
    subjectStats: (subject, signal) => inner.subjectStats(subject, signal),
    listConsumers: (subject, signal) => inner.listConsumers(subject, signal),
    consumerPosition: (durable, subject, signal) => inner.consumerPosition(durable, subject, signal),
    resetConsumer: (durable, subject, sequence, signal) => inner.resetConsumer(durable, subject, sequence, signal),
    addPendingUpload: (key, createdAtMs) => inner.addPendingUpload(key, createdAtMs),
    listStalePendingUploads: (olderThanMs, limit) => inner.listStalePendingUploads(olderThanMs, limit),
    removePendingUpload: (key) => inner.removePendingUpload(key),
    purge: (subject, through, signal) => inner.purge(subject, through, signal),
    setRetentionPolicy: (policy, signal) => inner.setRetentionPolicy(policy, signal),
    storageStats: (signal) => inner.storageStats(signal),
    listRetentionPolicies: (signal) => inner.listRetentionPolicies(signal),
    retentionPolicyOf: (subject, signal) => inner.retentionPolicyOf(subject, signal),
    deleteRetentionPolicy: (pattern, signal) => inner.deleteRetentionPolicy(pattern, signal),
    createConsumer: (config, nowMs, signal) => inner.createConsumer(config, nowMs, signal),
    updateConsumer: (config, signal) => inner.updateConsumer(config, signal),
    deleteConsumer: (durable, signal) => inner.deleteConsumer(durable, signal),
    consumerRecord: (durable, signal) => inner.consumerRecord(durable, signal),
    listConsumerRecords: (signal) => inner.listConsumerRecords(signal),
    startConsumerSubjects: (durable, starts, signal) => inner.startConsumerSubjects(durable, starts, signal),
    lease: (durable, subjects, limits, nowMs, signal) => inner.lease(durable, subjects, limits, nowMs, signal),
    settle: (durable, settlements, nowMs, signal) => inner.settle(durable, settlements, nowMs, signal),
    consumerStats: (durable, signal) => inner.consumerStats(durable, signal),
    redrive: (subject, from, to, limit, signal) => inner.redrive(subject, from, to, limit, signal),
    deletedObjects: (limit) => inner.deletedObjects(limit),
    forgetDeletedObjects: (keys) => inner.forgetDeletedObjects(keys),
    checkHealth: () => inner.checkHealth(),
    close: () => inner.close(),
  };
}
