import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../testing/conformance-harness.js';
import {
  assertExpiredExactly,
  expiringSubjects,
  fillExpiringSubjects,
  keepLast,
  messagesToExpire,
  untilExpiredAndDrained,
} from '../../testing/expiring-subjects.js';
import { openTarantoolBackend, waitUntilConnected } from '../../testing/tarantool-backend.js';
import { createMessageStore } from '../message-store.js';

const inlineMaxBytes = 64;
const layout = expiringSubjects({ inlinePerRound: 99, kept: 500, objectBytes: 2 * inlineMaxBytes });

test('SIGKILL of Tarantool in the middle of an expiry pass: after restart expiry finishes, no metadata names a missing object and no object outlives its metadata', async (t) => {
  // fsync mode: every expiry transaction waits for the disk, so a pass of 10,000 deletions lasts long enough to be interrupted.
  const { metadata, objects, tarantool } = await openTarantoolBackend(t, { env: { TARANTOOL_WAL_MODE: 'fsync' } });
  const store = createMessageStore({ metadata, objects, inlineMaxBytes, maxMessageBytes: 1024 * 1024, retentionIntervalMs: 100 });
  t.after(() => store.close());

  const objectKeys = await fillExpiringSubjects(store, metadata, layout);
  const toExpire = messagesToExpire(layout);

  await store.setRetentionPolicy(keepLast(layout));
  let expiredAtKill = 0n;
  await eventually(async () => {
    expiredAtKill = (await metadata.storageStats()).expired;
    return expiredAtKill > 0n;
  }, 30_000);
  await tarantool.kill();
  assert.ok(expiredAtKill < toExpire, `killed in the middle of the pass (${expiredAtKill} of ${toExpire} expired)`);
  t.diagnostic(`killed after ${expiredAtKill} of ${toExpire} expired`);

  await tarantool.start();
  await waitUntilConnected(metadata);
  await untilExpiredAndDrained(metadata, layout, 60_000);
  assert.equal((await metadata.storageStats()).expired, toExpire, 'every message past the limit was expired, once');
  await assertExpiredExactly(metadata, objects, layout, objectKeys);
});
