import type { Logger } from 'pino';
import { startPeriodicTask, type PeriodicTask } from './periodic-task.js';
import type { MetadataStore, ObjectStore } from './store.js';

export interface OrphanSweeperOptions {
  metadata: MetadataStore;
  objects: ObjectStore;
  /** Pending uploads younger than this are in progress, not orphans. */
  graceMs: number;
  intervalMs: number;
  logger?: Logger | undefined;
}

export type OrphanSweeper = PeriodicTask;

const batchSize = 100;

/**
 * Periodically deletes uploads that were never committed: for each pending
 * entry older than the grace period, the object is removed first and the entry
 * second, so a failure leaves the entry to retry on the next round instead of
 * leaking the object.
 */
export function startOrphanSweeper(options: OrphanSweeperOptions): OrphanSweeper {
  const { metadata, objects, graceMs, intervalMs, logger } = options;
  const sweep = async (): Promise<void> => {
    for (;;) {
      const keys = await metadata.listStalePendingUploads(Date.now() - graceMs, batchSize);
      for (const key of keys) {
        await objects.remove(key);
        await metadata.removePendingUpload(key);
        logger?.info({ objectKey: key }, 'removed an uncommitted upload');
      }
      if (keys.length < batchSize) return;
    }
  };

  return startPeriodicTask('orphan sweep', intervalMs, sweep, logger);
}
