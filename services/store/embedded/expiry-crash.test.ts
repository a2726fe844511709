import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../../testing/conformance-harness.js';
import { openEmbeddedHalves } from '../../testing/embedded-backend.js';
import {
  assertExpiredExactly,
  expiringSubjects,
  fillExpiringSubjects,
  keepLast,
  messagesKept,
  messagesToExpire,
  untilExpiredAndDrained,
} from '../../testing/expiring-subjects.js';
import { filesBelow } from '../../testing/files-below.js';
import { spawnService } from '../../testing/service-process.js';
import { createMessageStore } from '../message-store.js';
import type { MessageStore } from '../store.js';
import { objectPath, openFolderObjectStore } from './folder-object-store.js';
import { openSqliteMetadataStore } from './sqlite-metadata-store.js';

const inlineMaxBytes = 64;
const maxMessageBytes = 1024 * 1024;
// 50,000 messages due: an expiry pass of 500 transactions, long enough to be interrupted (inline rows are cheap to prepare).
const layout = expiringSubjects({ inlinePerRound: 499, kept: 2500, objectBytes: 2 * inlineMaxBytes });
/** The period of the timers of the stores the test opens before the service runs: they never fire during the test. */
const never = 60 * 60 * 1000;

test('SIGKILL of the embedded service in the middle of its expiry pass: after reopening expiry finishes, no metadata names a missing object and no object outlives its metadata', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-expiry-crash-'));
  let reopened: MessageStore | undefined;
  // node:test runs after-hooks in registration order: the store is closed before its folder is removed.
  t.after(async () => {
    await reopened?.close();
    await rm(dir, { recursive: true, force: true });
  });
  const file = join(dir, 'metadata.sqlite');
  const objectsDir = join(dir, 'objects');

  // The store that fills the folder: its expiry and retention timers never fire, and commits never expire
  // anything, so nothing is deleted before the service runs although the policy is set first.
  const preparing = await openSqliteMetadataStore({ file, expiryIntervalMs: never });
  const store = createMessageStore({
    metadata: preparing,
    objects: await openFolderObjectStore({ dir: objectsDir }),
    inlineMaxBytes,
    maxMessageBytes,
    retentionIntervalMs: never,
  });
  await store.setRetentionPolicy(keepLast(layout));
  const objectKeys = await fillExpiringSubjects(store, preparing, layout);
  await store.close();
  const toExpire = messagesToExpire(layout);

  // A second process on the file (this one) watches the service's expiry worker and kills the service mid-pass,
  // once the metadata of an object is deleted and the object is still queued for removal.
  const watcher = await openSqliteMetadataStore({ file, expiryIntervalMs: never });
  const service = await spawnService(t, 'ingress', { STORAGE: 'embedded', MTS_DATA_DIR: dir });
  await eventually(async () => (await watcher.storageStats()).expired > 0n && (await watcher.deletedObjects(1)).length > 0, 30_000);
  service.child.kill('SIGKILL');
  assert.equal(await service.exited, 'SIGKILL');
  const expiredAtKill = (await watcher.storageStats()).expired;
  const queuedAtKill = (await watcher.deletedObjects(objectKeys.size)).length;
  await watcher.close();
  assert.ok(expiredAtKill < toExpire, `killed in the middle of the pass (${expiredAtKill} of ${toExpire} expired)`);
  t.diagnostic(`killed after ${expiredAtKill} of ${toExpire} expired, ${queuedAtKill} objects queued for removal`);

  // Reopened with its workers: the expiry pass resumes and the queue of deleted objects drains.
  const { metadata, objects } = await openEmbeddedHalves(dir);
  reopened = createMessageStore({ metadata, objects, inlineMaxBytes, maxMessageBytes, retentionIntervalMs: 100 });
  await untilExpiredAndDrained(metadata, layout, 30_000);

  const keptKeys = await assertExpiredExactly(metadata, objects, layout, objectKeys);
  assert.deepEqual(
    (await filesBelow(objectsDir)).sort(),
    keptKeys.map((key) => relative(objectsDir, objectPath(objectsDir, key))).sort(),
    'the folder holds exactly the objects of the kept messages',
  );
  const stats = await metadata.storageStats();
  assert.deepEqual(
    [stats.messages, stats.expired, stats.purged, stats.objects],
    [messagesKept(layout), toExpire, 0n, BigInt(keptKeys.length)],
    'every message past the limit was expired once, and the counters match what is stored',
  );
});
