import type { Database } from 'better-sqlite3';

/**
 * Called after message rows are deleted, in their transaction: queues the
 * object key for removal unless another message still names it (a dead
 * letter and its original, a redriven message and its dead letter, share one
 * object), and counts a queued object out of the objects stored.
 */
export type ReleaseObject = (objectKey: string) => void;

/** Adds to the store-wide count of objects stored (the `objects` counter), in the caller's transaction. */
export type CountObjects = (delta: number) => void;

export function objectCounter(db: Database): CountObjects {
  const add = db.prepare<[number]>(
    `INSERT INTO counters (name, value) VALUES ('objects', ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value`,
  );
  return (delta) => {
    add.run(delta);
  };
}

export function objectReleaser(db: Database): ReleaseObject {
  // `object_key != ''` lets SQLite use the partial index messages_by_object_key.
  const queueUnnamed = db.prepare<{ key: string }>(
    `INSERT OR IGNORE INTO deleted_objects (object_key)
     SELECT :key WHERE NOT EXISTS (SELECT 1 FROM messages WHERE object_key = :key AND object_key != '')`,
  );
  const countObjects = objectCounter(db);
  return (objectKey) => {
    if (objectKey !== '' && queueUnnamed.run({ key: objectKey }).changes === 1) countObjects(-1);
  };
}
