import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { createMessageStore } from '../store/message-store.js';
import { eventually, payload } from '../testing/conformance-harness.js';
import { embeddedBackend } from '../testing/embedded-backend.js';
import { countWaits, type WaitCounter } from '../testing/wrapped-backend.js';
import { createSubjectWatch } from './subject-watch.js';

test('a watcher outlives its followers only until its wait returns, and a returning follower reuses it', async (t) => {
  const { metadata, objects } = await embeddedBackend.open(t);
  const waits: WaitCounter = { started: 0, inFlight: 0 };
  const store = createMessageStore({ metadata: countWaits(metadata, waits), objects, inlineMaxBytes: 1024, maxMessageBytes: 1024 * 1024 });
  t.after(() => store.close());
  const watch = createSubjectWatch({ store, logger: pino({ level: 'silent' }), waitTimeoutMs: 300 });
  const subject = 'watch.me';
  await store.publish([{ subject, data: payload(1), headers: {} }]);

  const follow = async () => {
    const gone = new AbortController();
    const iterator = watch.follow(subject, 0n, gone.signal);
    assert.deepEqual(await iterator.next(), { done: false, value: 1n });
    gone.abort();
    assert.equal((await iterator.next()).done, true);
  };
  await follow();
  await eventually(async () => waits.inFlight === 1);
  assert.equal(watch.watchedSubjects, 1, 'kept while its wait is in flight');
  for (let round = 0; round < 5; round++) await follow();
  assert.equal(waits.started, 1, 'followers that came back reused the wait');

  await eventually(async () => watch.watchedSubjects === 0 && waits.inFlight === 0, 2000);
  assert.equal(waits.started, 1, 'no wait was started after the last follower left');
});
