import type { Database } from 'better-sqlite3';

/**
 * Schema migrations, applied in order; the database's `user_version` is the
 * number already applied. Append new steps, never edit an applied one.
 */
const migrations: readonly string[] = [
  `
  -- last_sequence only ever grows: deleting messages never lets a number be reused.
  CREATE TABLE subjects (
    name          TEXT PRIMARY KEY,
    last_sequence INTEGER NOT NULL CHECK (last_sequence >= 0)
  ) WITHOUT ROWID;

  CREATE TABLE messages (
    subject      TEXT    NOT NULL,
    sequence     INTEGER NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    headers      TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    inline       BLOB,
    object_key   TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (subject, sequence)
  );

  CREATE TABLE consumers (
    durable   TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    ack_floor INTEGER NOT NULL,
    PRIMARY KEY (durable, subject)
  ) WITHOUT ROWID;

  CREATE TABLE pending_uploads (
    object_key    TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX pending_uploads_by_age ON pending_uploads (created_at_ms);
  `,
  `
  -- The client that first used a durable consumer; it never changes.
  CREATE TABLE consumer_owners (
    durable TEXT NOT NULL,
    subject TEXT NOT NULL,
    owner   TEXT NOT NULL,
    PRIMARY KEY (durable, subject)
  ) WITHOUT ROWID;
  `,
  `
  -- Per-subject counters kept at commit, so listing subjects reads no message.
  ALTER TABLE subjects ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE subjects ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
  UPDATE subjects SET
    message_count = (SELECT count(*) FROM messages WHERE messages.subject = subjects.name),
    bytes = (SELECT coalesce(sum(size), 0) FROM messages WHERE messages.subject = subjects.name);
  `,
  `
  -- The duplicate window: a msg-id committed on a subject, until it expires.
  -- IF NOT EXISTS: a database set back to an older version keeps the table.
  CREATE TABLE IF NOT EXISTS msg_ids (
    subject       TEXT    NOT NULL,
    msg_id        TEXT    NOT NULL,
    sequence      INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (subject, msg_id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS msg_ids_by_expiry ON msg_ids (expires_at_ms);
  `,
  `
  -- Retention limits per subject pattern, 0 = unlimited; the default policy is the pattern '>'.
  CREATE TABLE IF NOT EXISTS retention_policies (
    pattern      TEXT PRIMARY KEY,
    max_age_ms   INTEGER NOT NULL,
    max_messages INTEGER NOT NULL,
    max_bytes    INTEGER NOT NULL
  ) WITHOUT ROWID;

  -- Objects of deleted messages, queued in the transaction that deleted their metadata.
  CREATE TABLE IF NOT EXISTS deleted_objects (
    object_key TEXT PRIMARY KEY
  ) WITHOUT ROWID;
  `,
  `
  -- Per-pattern limits: the largest message, and whether a full subject refuses publishes ('new') or drops its oldest ('old').
  ALTER TABLE retention_policies ADD COLUMN max_message_bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE retention_policies ADD COLUMN discard TEXT NOT NULL DEFAULT 'old' CHECK (discard IN ('old', 'new'));
  `,
  `
  -- Store-wide counters kept with the data: messages expired and purged.
  CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  -- Interest retention: 'interest' also deletes what every durable consumer of the subject acknowledged.
  ALTER TABLE retention_policies ADD COLUMN retention TEXT NOT NULL DEFAULT 'limits' CHECK (retention IN ('limits', 'interest'));
  CREATE INDEX IF NOT EXISTS consumers_by_subject ON consumers (subject);
  `,
  `
  -- Configured consumers: the configuration (JSON of encodeConsumerConfig) and what the store counts for it.
  CREATE TABLE IF NOT EXISTS consumer_configs (
    durable             TEXT PRIMARY KEY,
    config              TEXT    NOT NULL,
    created_ms          INTEGER NOT NULL,
    delivered_total     INTEGER NOT NULL DEFAULT 0,
    dead_lettered_total INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;

  -- Per subject of a configured consumer: every sequence <= ack_floor is settled, none > delivered was delivered.
  CREATE TABLE IF NOT EXISTS consumer_positions (
    durable   TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    ack_floor INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    PRIMARY KEY (durable, subject)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS consumer_positions_by_subject ON consumer_positions (subject);

  -- Messages delivered to a configured consumer and not settled; expired ones are redelivered oldest first.
  CREATE TABLE IF NOT EXISTS consumer_leases (
    durable        TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    sequence       INTEGER NOT NULL,
    deliveries     INTEGER NOT NULL,
    lease_until_ms INTEGER NOT NULL,
    PRIMARY KEY (durable, subject, sequence)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS consumer_leases_by_expiry ON consumer_leases (durable, lease_until_ms);

  -- A dead letter shares its original's object: an object is deleted only when no message names it.
  CREATE INDEX IF NOT EXISTS messages_by_object_key ON messages (object_key) WHERE object_key != '';
  `,
  `
  -- Objects stored, a counter kept with the data like expired and purged: the distinct object keys messages name.
  INSERT INTO counters (name, value) SELECT 'objects', count(DISTINCT object_key) FROM messages WHERE object_key != ''
    ON CONFLICT (name) DO UPDATE SET value = excluded.value;
  `,
];

/** The `user_version` of a database this program has brought up to date. */
export const latestSchemaVersion = migrations.length;

/** Brings the schema up to date; safe to run on every open and from two processes at once. */
export function migrate(db: Database): void {
  db.transaction(() => {
    const applied = Number(db.pragma('user_version', { simple: true }));
    if (applied > migrations.length) {
      throw new Error(`database schema version ${applied} is newer than this program knows (${migrations.length})`);
    }
    for (const step of migrations.slice(applied)) db.exec(step);
    db.pragma(`user_version = ${migrations.length}`);
  }).immediate();
}
