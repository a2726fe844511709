import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { StoreClosedError, type MetadataRecord, type MetadataStore } from '../store.js';
import { openSqliteMetadataStore } from './sqlite-metadata-store.js';
import { latestSchemaVersion } from './sqlite-schema.js';
import { within } from '../../testing/within.js';

async function databaseFile(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-sqlite-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'metadata.sqlite');
}

async function open(t: TestContext, file: string): Promise<MetadataStore> {
  const store = await openSqliteMetadataStore({ file });
  t.after(() => store.close());
  return store;
}

const record = (subject: string, byte = 0): MetadataRecord => ({
  subject,
  timestampMs: Date.now(),
  headers: { 'data-size': '1' },
  size: 1,
  inline: Uint8Array.of(byte),
  objectKey: '',
});

test('two store instances on one file see each other and never share a sequence', async (t) => {
  const file = await databaseFile(t);
  const [first, second] = [await open(t, file), await open(t, file)];
  const { cursor } = await second.waitForChanges('', 10_000);
  // A wait far longer than the test's bound: only the periodic check can end it in time.
  const waiting = second.waitForChanges(cursor, 3_600_000);
  await first.commit([record('shared')]);
  const answer = await within(waiting, 30_000, 'the other instance to notice the commit');
  assert.equal(answer.changes, 'resync', 'the other instance notices a write it cannot describe');
  assert.deepEqual(await second.lastSequences(['shared']), [1n]);

  const committed = await Promise.all(
    Array.from({ length: 40 }, (_, index) => (index % 2 ? first : second).commit([record('shared', index)])),
  );
  const sequences = committed
    .flat()
    .map(({ sequence }) => sequence)
    .sort((a, b) => Number(a - b));
  assert.deepEqual(
    sequences,
    Array.from({ length: 40 }, (_, index) => BigInt(index + 2)),
  );
  assert.equal(await second.lastSequence('shared'), 41n);
});

test('the sequence counter survives deleted rows and a reopen', async (t) => {
  const file = await databaseFile(t);
  const store = await openSqliteMetadataStore({ file });
  assert.deepEqual(await store.commit([record('kept'), record('kept'), record('kept')]), [
    { sequence: 1n },
    { sequence: 2n },
    { sequence: 3n },
  ]);
  assert.equal(await store.ack('reader', 'kept', 2n), 2n);
  await store.close();

  // Retention deleting old messages must never let a number be reused.
  const raw = new Database(file);
  raw.exec('DELETE FROM messages');
  raw.close();

  const reopened = await open(t, file);
  assert.equal(await reopened.lastSequence('kept'), 3n);
  assert.equal(await reopened.ackFloor('reader', 'kept'), 2n);
  assert.deepEqual(await reopened.commit([record('kept')]), [{ sequence: 4n }]);
});

test('the objects-stored counter is recounted from the stored rows by its migration', async (t) => {
  const file = await databaseFile(t);
  const store = await openSqliteMetadataStore({ file });
  for (const key of ['object-a', 'object-b']) await store.addPendingUpload(key, Date.now());
  await store.commit([
    { ...record('objects'), inline: null, objectKey: 'object-a' },
    { ...record('objects'), inline: null, objectKey: 'object-b' },
    record('objects'),
  ]);
  assert.equal((await store.storageStats()).objects, 2n);
  await store.close();
  const raw = new Database(file);
  // A database from before the counter: the same rows, no counter.
  raw.exec("DELETE FROM counters WHERE name = 'objects'");
  raw.pragma(`user_version = ${latestSchemaVersion - 1}`);
  raw.close();
  const upgraded = await open(t, file);
  assert.equal((await upgraded.storageStats()).objects, 2n);
});

test('the schema is created once, upgraded in place, and a newer schema is refused', async (t) => {
  const file = await databaseFile(t);
  await (await openSqliteMetadataStore({ file })).close();
  await (await openSqliteMetadataStore({ file })).close();
  const raw = new Database(file);
  assert.equal(raw.pragma('user_version', { simple: true }), latestSchemaVersion);
  assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
  // A database of the first schema gains the consumer owners and subject counters on open.
  raw.exec('DROP TABLE consumer_owners; DROP TABLE retention_policies; DROP TABLE deleted_objects');
  raw.exec('ALTER TABLE subjects DROP COLUMN message_count; ALTER TABLE subjects DROP COLUMN bytes');
  raw.pragma('user_version = 1');
  raw.close();
  const upgraded = await openSqliteMetadataStore({ file });
  assert.equal(await upgraded.claimConsumer('d', 's', 'client-a'), true);
  await upgraded.close();
  const again = new Database(file);
  assert.equal(again.pragma('user_version', { simple: true }), latestSchemaVersion);
  again.pragma('user_version = 99');
  again.close();
  await assert.rejects(openSqliteMetadataStore({ file }), /newer than this program knows/);
});

test('the subject counters migration counts the messages already stored', async (t) => {
  const file = await databaseFile(t);
  const before = await openSqliteMetadataStore({ file });
  await before.commit([record('counted'), record('counted'), record('other')]);
  await before.close();
  const raw = new Database(file);
  raw.exec('ALTER TABLE subjects DROP COLUMN message_count; ALTER TABLE subjects DROP COLUMN bytes');
  raw.exec('DROP TABLE retention_policies; DROP TABLE deleted_objects');
  raw.pragma('user_version = 2');
  raw.close();

  const upgraded = await open(t, file);
  const stats = await upgraded.subjectStats('counted');
  assert.equal(stats?.messages, 2n);
  assert.equal(stats?.bytes, 2n * BigInt(record('counted').size));
  assert.equal((await upgraded.subjectStats('other'))?.messages, 1n);
});

test('closing rejects waiters and later calls with StoreClosedError', async (t) => {
  const store = await openSqliteMetadataStore({ file: await databaseFile(t) });
  const waiting = store.waitForChanges((await store.waitForChanges('', 0)).cursor, 10_000);
  await store.close();
  await assert.rejects(waiting, StoreClosedError);
  await assert.rejects(store.lastSequence('quiet'), StoreClosedError);
  await assert.rejects(store.commit([record('quiet')]), StoreClosedError);
  assert.equal((await store.checkHealth()).ok, false);
  await store.close();
});

test('two store instances on one file share a configured consumer: its leases live in the file', async (t) => {
  const file = await databaseFile(t);
  const [first, second] = [await open(t, file), await open(t, file)];
  await first.commit(Array.from({ length: 6 }, (_, index) => record('jobs', index)));
  const config = {
    durable: 'workers',
    filterSubjects: ['jobs'],
    ackPolicy: 'explicit' as const,
    ackWaitMs: 1000,
    maxDeliver: 0,
    backoffMs: [],
    maxAckPending: 100,
    deliver: { kind: 'all' as const },
    deadLetterSubject: '',
  };
  await first.createConsumer(config, 1000);
  await second.startConsumerSubjects('workers', [{ subject: 'jobs', startAfter: 0n }]);
  const three = { maxMessages: 3, maxBytes: 1 << 20 };
  const sequences = async (store: MetadataStore, nowMs: number) =>
    (await store.lease('workers', ['jobs'], three, nowMs)).rows.map((row) => `${row.sequence}/${row.deliveryCount}`);
  assert.deepEqual(await sequences(first, 1000), ['1/1', '2/1', '3/1']);
  assert.deepEqual(await sequences(second, 1000), ['4/1', '5/1', '6/1']);
  assert.deepEqual(await second.settle('workers', [{ subject: 'jobs', sequence: 1n, kind: 'ack', delayMs: 0, deliveryCount: 1 }], 1500), [
    'applied',
  ]);
  assert.deepEqual(await sequences(second, 2000), ['2/2', '3/2', '4/2'], "the other instance's expired leases");
  assert.equal((await first.consumerStats('workers'))!.positions[0]!.ackFloor, 1n);
});
