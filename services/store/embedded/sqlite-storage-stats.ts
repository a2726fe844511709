import type { Database } from 'better-sqlite3';
import { mostSpecific } from '../subject-pattern.js';
import { dueSinceMs } from '../retention-rules.js';
import type { PolicyStorage, RetentionPolicy, StorageStats } from '../store.js';

/**
 * The embedded store's {@link StorageStats}: totals from the counters, and per
 * policy the counters of its subjects and its expiry lag. One step per
 * subject, two index lookups where its policy ages or counts; init.lua's
 * mts_storage_stats is the same for Tarantool.
 */
export function storageStatsReader(db: Database, policies: () => RetentionPolicy[]): () => StorageStats {
  const statements = {
    totals: db.prepare<[], Omit<StorageStats, 'policies'>>(
      `SELECT coalesce((SELECT sum(message_count) FROM subjects), 0) AS messages,
         coalesce((SELECT sum(bytes) FROM subjects), 0) AS bytes,
         coalesce((SELECT value FROM counters WHERE name = 'objects'), 0) AS objects,
         coalesce((SELECT value FROM counters WHERE name = 'expired'), 0) AS expired,
         coalesce((SELECT value FROM counters WHERE name = 'purged'), 0) AS purged`,
    ),
    subjects: db.prepare<[], { name: string; message_count: bigint; bytes: bigint }>(
      'SELECT name, message_count, bytes FROM subjects ORDER BY name',
    ),
    oldest: db.prepare<[string], { sequence: bigint; timestamp_ms: bigint }>(
      'SELECT sequence, timestamp_ms FROM messages WHERE subject = ? ORDER BY sequence LIMIT 1',
    ),
    timestampAt: db.prepare<[string, bigint], bigint>('SELECT timestamp_ms FROM messages WHERE subject = ? AND sequence = ?').pluck(),
  };
  return () => {
    const nowMs = Date.now();
    const byPattern = new Map(policies().map((policy) => [policy.pattern, policy]));
    const patterns = [...byPattern.keys()];
    const stored = new Map<string, PolicyStorage>();
    for (const subject of statements.subjects.iterate()) {
      const pattern = mostSpecific(patterns, subject.name);
      if (pattern === undefined) continue;
      let entry = stored.get(pattern);
      if (entry === undefined) {
        entry = { pattern, messages: 0n, bytes: 0n, expiryLagMs: 0 };
        stored.set(pattern, entry);
      }
      entry.messages += subject.message_count;
      entry.bytes += subject.bytes;
      const oldest = statements.oldest.get(subject.name);
      if (oldest === undefined) continue;
      const first = { sequence: oldest.sequence, timestampMs: Number(oldest.timestamp_ms) };
      const timestampAt = (sequence: bigint) => {
        const found = statements.timestampAt.get(subject.name, sequence);
        return found === undefined ? undefined : Number(found);
      };
      const due = dueSinceMs(byPattern.get(pattern)!, subject.message_count, first, timestampAt);
      if (due !== undefined) entry.expiryLagMs = Math.max(entry.expiryLagMs, nowMs - due);
    }
    return { ...statements.totals.get()!, policies: [...stored.values()].sort((a, b) => (a.pattern < b.pattern ? -1 : 1)) };
  };
}
