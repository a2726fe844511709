import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, payload } from '../../testing/conformance-harness.js';
import { openTarantoolBackend, waitUntilConnected } from '../../testing/tarantool-backend.js';
import { createMessageStore } from '../message-store.js';
import { ObjectMissingError, unlimitedRetention, type MetadataRecord } from '../store.js';

const subjects = Array.from({ length: 20 }, (_, index) => `expiring.${index}`);
const rounds = 10;
const inlinePerRound = 99;
const kept = 500;
const inlineMaxBytes = 64;

test('SIGKILL of Tarantool in the middle of an expiry pass: after restart expiry finishes, no metadata names a missing object and no object outlives its metadata', async (t) => {
  // fsync mode: every expiry transaction waits for the disk, so a pass of 10,000 deletions lasts long enough to be interrupted.
  const { metadata, objects, tarantool } = await openTarantoolBackend(t, { env: { TARANTOOL_WAL_MODE: 'fsync' } });
  const store = createMessageStore({ metadata, objects, inlineMaxBytes, maxMessageBytes: 1024 * 1024, retentionIntervalMs: 100 });
  t.after(() => store.close());

  // Each subject: 10 rounds of one payload object then 99 inline messages, so objects are spread through the pass.
  const objectKeys = new Map<string, { subject: string; sequence: bigint }>();
  const inline = (subject: string): MetadataRecord => ({
    subject,
    timestampMs: Date.now(),
    headers: {},
    size: 8,
    inline: payload(8),
    objectKey: '',
  });
  for (let round = 0; round < rounds; round++) {
    for (const subject of subjects) {
      const [stored] = await store.publish([{ subject, data: payload(2 * inlineMaxBytes, round), headers: {} }]);
      objectKeys.set(stored!.objectName, { subject, sequence: stored!.sequence });
      await metadata.commit(Array.from({ length: inlinePerRound }, () => inline(subject)));
    }
  }
  const perSubject = rounds * (1 + inlinePerRound);
  const toExpire = BigInt(subjects.length * (perSubject - kept));

  await store.setRetentionPolicy({
    pattern: 'expiring.>',
    ...unlimitedRetention,
    maxMessages: kept,
    maxMessageBytes: 0,
    discard: 'old',
    retention: 'limits',
  });
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
  await eventually(async () => {
    const stats = await metadata.storageStats();
    return stats.messages === BigInt(subjects.length * kept) && (await metadata.deletedObjects(1)).length === 0;
  }, 60_000);
  assert.equal((await metadata.storageStats()).expired, toExpire, 'every message past the limit was expired, once');

  const firstKept = BigInt(perSubject - kept + 1);
  for (const subject of subjects) {
    const stats = await store.subjectStats(subject);
    assert.deepEqual([stats?.firstSequence, stats?.messages], [firstKept, BigInt(kept)], subject);
  }
  let keptObjects = 0;
  for (const [key, { subject, sequence }] of objectKeys) {
    if (sequence >= firstKept) {
      keptObjects += 1;
      const [row] = await metadata.readAfter(subject, sequence - 1n, 1);
      assert.equal(row?.objectKey, key, `${subject} #${sequence} still names its object`);
      assert.equal((await objects.get(key)).byteLength, 2 * inlineMaxBytes, `the object of ${subject} #${sequence} exists`);
    } else {
      await assert.rejects(objects.get(key), ObjectMissingError, `the object of expired ${subject} #${sequence} is removed`);
    }
  }
  assert.ok(keptObjects > 0 && keptObjects < objectKeys.size, 'some objects are kept, some expired');
});
