import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { STORE_DISK_USED } from '../../platform/store-metrics.js';
import { collect, payload } from '../../testing/conformance-harness.js';
import { metricValue } from '../../testing/metric-value.js';
import type { OpenedBackend } from '../../testing/test-backend.js';
import { egressClient, ingressClient, startTestServices } from '../../testing/test-services.js';
import { createMessageStore } from '../message-store.js';
import { StoreFullError, type PublishMessage } from '../store.js';
import { createDiskGuard, statfsReader, type DiskGuard, type DiskSpace } from './disk-guard.js';
import { openFolderObjectStore } from './folder-object-store.js';
import { openSqliteMetadataStore } from './sqlite-metadata-store.js';

const inlineMaxBytes = 1024;
const message = (subject: string, size = 10): PublishMessage => ({ subject, data: payload(size), headers: {} });

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mts-disk-guard-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Both embedded halves in a fresh folder, commits guarded by `guard`; the MessageStore over them closes them. */
async function guardedHalves(t: TestContext, guard: DiskGuard): Promise<OpenedBackend> {
  const dir = await tempDir(t);
  const metadata = await openSqliteMetadataStore({ file: join(dir, 'metadata.sqlite'), diskGuard: guard });
  return { metadata, objects: await openFolderObjectStore({ dir: join(dir, 'objects') }) };
}

const roomy: DiskSpace = { usedBytes: 50, availableBytes: 50 };
const nearlyFull: DiskSpace = { usedBytes: 95, availableBytes: 5 };

test('a nearly full disk refuses publishes before anything is written; reads, acks and purges go on; room again accepts them', async (t) => {
  // The reading is injected: the test never fills a real disk.
  let disk = roomy;
  const guard = createDiskGuard({ read: async () => disk, refusePercent: 90 });
  const { metadata, objects } = await guardedHalves(t, guard);
  const store = createMessageStore({ metadata, objects, inlineMaxBytes, maxMessageBytes: 1024 * 1024 });
  t.after(() => store.close());

  await store.publish([message('disk.a'), message('disk.a', 2 * inlineMaxBytes), message('disk.a')]);
  disk = nearlyFull;
  await guard.refresh();
  await assert.rejects(store.publish([message('disk.a')]), (error: unknown) => {
    assert.ok(error instanceof StoreFullError);
    assert.match(error.message, /disk of the embedded store is 95\.0% full; publishes are refused from 90%/);
    return true;
  });
  await assert.rejects(store.publish([message('disk.b', 2 * inlineMaxBytes)]), StoreFullError);
  assert.deepEqual(await metadata.listStalePendingUploads(Date.now() + 60_000, 10), [], 'the large payload was refused before its upload');
  assert.equal(await store.lastSequence('disk.b'), 0n);

  assert.equal((await collect(store.read('disk.a', 0n, { maxMessages: 10, maxBytes: 1 << 20 }))).length, 3, 'reads go on');
  assert.equal(await store.ack('reader', 'disk.a', 2n), 2n, 'acks go on');
  assert.equal(await store.purge('disk.a', 1n), 1, 'purges go on');
  assert.equal((await store.storageStats()).diskUsedPercent, 95);

  disk = roomy;
  await guard.refresh();
  const [next] = await store.publish([message('disk.a')]);
  assert.equal(next!.sequence, 4n, 'with room again publishes are accepted');
});

test('through the services: a publish gets resource_exhausted naming the disk, ingress stays ready, consumers read and ack, /metrics shows it', async (t) => {
  let disk = roomy;
  const guard = createDiskGuard({ read: async () => disk, refusePercent: 90 });
  const services = await startTestServices(t, { backend: { name: 'embedded', open: (bt) => guardedHalves(bt, guard) } });
  const ingress = ingressClient(services);
  const egress = egressClient(services);
  await ingress.publish({ subject: 'full.a', data: payload(8) });
  disk = nearlyFull;
  await guard.refresh();

  await assert.rejects(ingress.publish({ subject: 'full.a', data: payload(8) }), (error: unknown) => {
    const refusal = ConnectError.from(error);
    assert.equal(refusal.code, Code.ResourceExhausted);
    assert.match(refusal.rawMessage, /disk of the embedded store is 95\.0% full/);
    return true;
  });
  // A readiness check made with the disk nearly full still finds the ingress ready.
  await services.ingress.readiness.refresh();
  assert.equal((await fetch(`${services.ingress.url}/readyz`)).status, 200, 'ingress stays ready for reads');
  const fetched = [];
  for await (const received of egress.fetch({ subject: 'full.a', durableName: 'reader' })) fetched.push(received.sequence);
  assert.deepEqual(fetched, [1n]);
  await egress.ackMessage({ subject: 'full.a', durableName: 'reader', sequence: 1n });
  assert.equal(await metricValue(services.ingress.url, STORE_DISK_USED), 95);
});

test('checks answer from the last reading: a busy store reads the disk once per max age, not per message', async () => {
  let reads = 0;
  const guard = createDiskGuard({
    read: async () => {
      reads += 1;
      return { usedBytes: 1, availableBytes: 99 };
    },
    refusePercent: 90,
    maxAgeMs: 3_600_000,
  });
  await guard.refresh();
  const before = reads;
  for (let index = 0; index < 10_000; index++) guard.check();
  assert.equal(guard.usedPercent(), 1);
  assert.equal(reads, before, 'no reading while the last one is fresh');
});

test('statfsReader reads the real filesystem of a folder', async (t) => {
  const { usedBytes, availableBytes } = await statfsReader(await tempDir(t))();
  assert.ok(usedBytes > 0 && availableBytes > 0, `used ${usedBytes}, available ${availableBytes}`);
});
