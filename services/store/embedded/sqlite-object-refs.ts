import type { Database } from 'better-sqlite3';

/**
 * Called after message rows are deleted, in their transaction: queues the
 * object key for removal unless another message still names it (a dead
 * letter and its original, a redriven message and its dead letter, share one
 * object).
 */
export type ReleaseObject = (objectKey: string) => void;

export function objectReleaser(db: Database): ReleaseObject {
  // `object_key != ''` lets SQLite use the partial index messages_by_object_key.
  const queueUnnamed = db.prepare<{ key: string }>(
    `INSERT OR IGNORE INTO deleted_objects (object_key)
     SELECT :key WHERE NOT EXISTS (SELECT 1 FROM messages WHERE object_key = :key AND object_key != '')`,
  );
  return (objectKey) => {
    if (objectKey !== '') queueUnnamed.run({ key: objectKey });
  };
}
