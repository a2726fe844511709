import { execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { eventually } from '../../testing/conformance-harness.js';
import { waitUntilConnected } from '../../testing/tarantool-backend.js';
import { within } from '../../testing/within.js';
import { startTarantool, type TarantoolServer } from '../../testing/tarantool-server.js';
import type { ConsumerConfig } from '../consumers.js';
import { AckBeyondEndError, StoreUnavailableError, UploadExpiredError, type MetadataRecord } from '../store.js';
import { openTarantoolLink } from './connection.js';
import { openTarantoolMetadataStore } from './metadata-store.js';

const run = promisify(execFile);

function connectionOptions(server: TarantoolServer) {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    callTimeoutMs: 2000,
    maxReconnectDelayMs: 100,
  };
}

async function openStore(t: TestContext, server: TarantoolServer) {
  const store = openTarantoolMetadataStore(connectionOptions(server));
  t.after(() => store.close());
  await waitUntilConnected(store);
  return store;
}

function inline(subject: string, data: Uint8Array): MetadataRecord {
  return {
    subject,
    timestampMs: Date.now(),
    headers: { 'content-type': 'application/octet-stream' },
    size: data.length,
    inline: data,
    objectKey: '',
  };
}

/** Sets a subject's counter directly in the data files, as only an admin could. */
async function setCounter(server: TarantoolServer, subject: string, last: bigint) {
  await server.kill();
  const script = `box.cfg{work_dir=${JSON.stringify(server.workDir)}, memtx_memory=64*1024*1024, log_level=1}
    box.space.mts_subjects:replace{${JSON.stringify(subject)}, tonumber64('${last}'), 0, 0}
    os.exit(0)`;
  await run('tarantool', ['-e', script], { cwd: server.workDir, timeout: 10_000 });
  await server.start();
}

test('inline payloads with every byte value round-trip exactly', async (t) => {
  const store = await openStore(t, await startTarantool(t));
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const sequences = await store.commit([inline('bin', all), inline('bin', new Uint8Array(0))]);
  assert.deepEqual(sequences, [{ sequence: 1n }, { sequence: 2n }]);
  const rows = await store.readAfter('bin', 0n, 10);
  assert.deepEqual(rows[0]!.inline, all);
  assert.deepEqual(rows[1]!.inline, new Uint8Array(0));
  assert.equal(rows[0]!.headers['content-type'], 'application/octet-stream');
});

test('structured failures become the store error classes', async (t) => {
  const store = await openStore(t, await startTarantool(t));
  const objectRecord = { ...inline('obj', new Uint8Array(0)), size: 10, inline: null, objectKey: 'never-registered' };
  await assert.rejects(store.commit([objectRecord]), UploadExpiredError);
  await store.addPendingUpload('registered', Date.now());
  assert.deepEqual(await store.commit([{ ...objectRecord, objectKey: 'registered' }]), [{ sequence: 1n }]);
  assert.equal((await store.readAfter('obj', 0n, 1))[0]!.inline, null);
  const error = await store.ack('d', 'obj', 5n).catch((caught: unknown) => caught);
  assert.ok(error instanceof AckBeyondEndError);
  assert.equal(error.lastSequence, 1n);
});

test('sequences and ack floors beyond 2^53 survive the driver', async (t) => {
  const server = await startTarantool(t);
  await setCounter(server, 'huge', 2n ** 64n - 3n);
  const store = await openStore(t, server);
  assert.deepEqual(await store.commit([inline('huge', new Uint8Array([1])), inline('huge', new Uint8Array([2]))]), [
    { sequence: 2n ** 64n - 2n },
    { sequence: 2n ** 64n - 1n },
  ]);
  assert.equal(await store.ack('d', 'huge', 2n ** 64n - 2n), 2n ** 64n - 2n);
  assert.equal(await store.ackFloor('d', 'huge'), 2n ** 64n - 2n);
  assert.equal(await store.lastSequence('huge'), 2n ** 64n - 1n);
  assert.equal((await store.readAfter('huge', 2n ** 64n - 2n, 5))[0]!.sequence, 2n ** 64n - 1n);
  assert.deepEqual(await store.lastSequences(['huge']), [2n ** 64n - 1n]);
});

test('calls made while a large response is half read still go through', async (t) => {
  const store = await openStore(t, await startTarantool(t));
  const payload = new Uint8Array(60_000).fill(7);
  await store.commit(Array.from({ length: 20 }, () => inline('big', payload)));
  // Each read answers ~1.6 MB in many socket chunks; the pings land in between.
  const calls = Array.from({ length: 10 }, async () => {
    const rows = await store.readAfter('big', 0n, 20);
    const floors = await Promise.all(Array.from({ length: 20 }, () => store.lastSequence('big')));
    return rows.length + floors.filter((last) => last === 20n).length;
  });
  assert.deepEqual(await Promise.all(calls), Array(10).fill(40));
});

test('waitForChanges wakes on a commit from another connection, resyncs after a restart, and aborts', async (t) => {
  const server = await startTarantool(t);
  const [waiter, writer] = await Promise.all([openStore(t, server), openStore(t, server)]);
  const { cursor } = await waiter.waitForChanges('', 1000);
  // A wait far longer than the test's bound: only the commit can end it in time.
  const woken = waiter.waitForChanges(cursor, 3_600_000);
  await writer.commit([inline('w', new Uint8Array([1]))]);
  const answer = await within(woken, 30_000, 'the wait to be woken by the commit');
  assert.deepEqual(answer.changes, [{ subject: 'w', lastSequence: 1n }]);
  const controller = new AbortController();
  const aborted = waiter.waitForChanges(answer.cursor, 10_000, controller.signal);
  controller.abort();
  await assert.rejects(aborted, { name: 'AbortError' });
  // Another process's feed (a restarted Tarantool) cannot tell what changed.
  assert.equal((await waiter.waitForChanges(`1${answer.cursor}`, 1000)).changes, 'resync');
});

test('survives a Tarantool crash: fails fast while down, reconnects, keeps data and the counter', async (t) => {
  const server = await startTarantool(t);
  const store = await openStore(t, server);
  await store.commit([1, 2, 3].map((n) => inline('crash', new Uint8Array([n]))));
  await store.ack('d', 'crash', 2n);

  await server.kill();
  const started = Date.now();
  await assert.rejects(store.lastSequence('crash'), StoreUnavailableError);
  await assert.rejects(store.commit([inline('crash', new Uint8Array([4]))]), StoreUnavailableError);
  assert.ok(Date.now() - started < 1000, 'calls fail promptly while down');
  assert.equal((await store.checkHealth()).ok, false);

  await server.start();
  await waitUntilConnected(store);
  assert.equal(await store.lastSequence('crash'), 3n);
  assert.equal(await store.ackFloor('d', 'crash'), 2n);
  assert.deepEqual(
    (await store.readAfter('crash', 0n, 10)).map((row) => row.inline?.[0]),
    [1, 2, 3],
  );

  // Retention deletes everything; after another crash the counter still continues.
  const link = openTarantoolLink(connectionOptions(server));
  t.after(() => link.close());
  await eventually(async () => link.connected, 10_000);
  assert.deepEqual(await link.call('mts_delete_through', ['crash', '3']), { ok: true, deleted: 3, more: false });
  await server.kill();
  await server.start();
  await waitUntilConnected(store);
  assert.deepEqual(await store.commit([inline('crash', new Uint8Array([5]))]), [{ sequence: 4n }]);
});

test('configured consumers survive a Tarantool crash: leases held before it are redelivered after their ack wait', async (t) => {
  const server = await startTarantool(t);
  const store = await openStore(t, server);
  await store.commit([1, 2, 3].map((n) => inline('orders.crash', new Uint8Array([n]))));
  const config: ConsumerConfig = {
    durable: 'workers',
    filterSubjects: ['orders.>'],
    ackPolicy: 'explicit',
    ackWaitMs: 1000,
    maxDeliver: 0,
    backoffMs: [],
    maxAckPending: 100,
    deliver: { kind: 'all' },
    deadLetterSubject: '',
  };
  const record = await store.createConsumer(config, 500);
  await store.startConsumerSubjects('workers', [{ subject: 'orders.crash', startAfter: 0n }]);
  const leasedBefore = await store.lease('workers', ['orders.crash'], { maxMessages: 2, maxBytes: 1024 }, 1000);
  assert.deepEqual(
    leasedBefore.rows.map((row) => row.sequence),
    [1n, 2n],
  );
  assert.deepEqual(
    await store.settle('workers', [{ subject: 'orders.crash', sequence: 1n, kind: 'ack', delayMs: 0, deliveryCount: 1 }], 1000),
    ['applied'],
  );

  await server.kill();
  await server.start();
  await waitUntilConnected(store);
  assert.deepEqual(await store.consumerRecord('workers'), record);
  const stats = await store.consumerStats('workers');
  assert.deepEqual(stats?.positions, [{ subject: 'orders.crash', ackFloor: 1n, delivered: 2n, lastSequence: 3n }]);
  assert.equal(stats?.ackPending, 1);
  const leased = async (nowMs: number) =>
    (await store.lease('workers', ['orders.crash'], { maxMessages: 10, maxBytes: 1024 }, nowMs)).rows.map(
      (row) => `${row.sequence}/${row.deliveryCount}`,
    );
  assert.deepEqual(await leased(1999), ['3/1'], 'the lease held before the crash still holds');
  assert.deepEqual(await leased(2000), ['2/2'], 'and its message is redelivered once it expires');
});
