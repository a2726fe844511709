import type { Logger } from 'pino';
import type { MetadataStore, ObjectStore } from './store.js';

export interface OrphanSweeperOptions {
  metadata: MetadataStore;
  objects: ObjectStore;
  /** Pending uploads younger than this are in progress, not orphans. */
  graceMs: number;
  intervalMs: number;
  logger?: Logger | undefined;
}

export interface OrphanSweeper {
  /** Stops the timer and waits for a running sweep to finish. */
  stop(): Promise<void>;
}

const batchSize = 100;

/**
 * Periodically deletes uploads that were never committed: for each pending
 * entry older than the grace period, the object is removed first and the entry
 * second, so a failure leaves the entry to retry on the next round instead of
 * leaking the object. The timer is unref'd and sweeps never overlap.
 */
export function startOrphanSweeper(options: OrphanSweeperOptions): OrphanSweeper {
  const { metadata, objects, graceMs, intervalMs, logger } = options;
  let running: Promise<void> | undefined;

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

  const timer = setInterval(() => {
    if (running) return;
    running = sweep()
      .catch((error: unknown) => logger?.warn({ err: error }, 'orphan sweep failed; retrying on the next round'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();

  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
