import type { Logger } from 'pino';
import { startPeriodicTask, type PeriodicTask } from './periodic-task.js';
import { defaultPolicyPattern, type MetadataStore, type ObjectStore, type RetentionLimits } from './store.js';

export interface RetentionWorkerOptions {
  metadata: MetadataStore;
  objects: ObjectStore;
  /** The default policy from this process's environment, written to the store. */
  defaultRetention: RetentionLimits;
  intervalMs: number;
  logger?: Logger | undefined;
}

const batchSize = 100;

/**
 * The service's half of retention. The store's own expiry worker deletes
 * metadata and queues the object keys of what it deleted; this worker writes
 * the default policy into the store (once, retried each round until the store
 * answers, so a store down at start does not stop it) and drains the queue:
 * each object is removed before its queue entry, so a crash in between only
 * repeats a removal.
 */
export function startRetentionWorker(options: RetentionWorkerOptions): PeriodicTask {
  const { metadata, objects, defaultRetention, intervalMs, logger } = options;
  let policyWritten = false;
  const round = async (): Promise<void> => {
    if (!policyWritten) {
      await metadata.setRetentionPolicy({
        pattern: defaultPolicyPattern,
        ...defaultRetention,
        maxMessageBytes: 0,
        discard: 'old',
        retention: 'limits',
      });
      policyWritten = true;
      logger?.info({ retention: defaultRetention }, 'default retention policy stored');
    }
    for (;;) {
      const keys = await metadata.deletedObjects(batchSize);
      for (const key of keys) await objects.remove(key);
      await metadata.forgetDeletedObjects(keys);
      if (keys.length < batchSize) return;
    }
  };
  return startPeriodicTask('retention round', intervalMs, round, logger);
}
