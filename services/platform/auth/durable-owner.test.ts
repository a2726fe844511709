import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createMessageStore } from '../../store/message-store.js';
import type { MessageStore } from '../../store/store.js';
import { embeddedBackend } from '../../testing/embedded-backend.js';
import { AUTH_FAILURES, createMetrics } from '../metrics.js';
import { AuthFailure } from './auth-failure.js';
import { durableOwnership } from './durable-owner.js';
import type { Principal } from './principal.js';

const client = (clientId: string): Principal => ({ kind: 'client', clientId, allowedSubjects: [], permissions: new Set(['*']) });
const anonymous: Principal = { kind: 'anonymous' };

/** A real embedded store whose claimConsumer calls are counted. */
async function countedStore(t: TestContext): Promise<{ store: MessageStore; claims: () => number }> {
  const store = createMessageStore({ ...(await embeddedBackend.open(t)), inlineMaxBytes: 1024, maxMessageBytes: 1 << 20 });
  t.after(() => store.close());
  let claims = 0;
  const counted: MessageStore = {
    ...store,
    claimConsumer: (...args) => {
      claims++;
      return store.claimConsumer(...args);
    },
  };
  return { store: counted, claims: () => claims };
}

const refused = (error: unknown) => error instanceof AuthFailure && error.reason === 'permission_denied';

test('the first caller owns a durable; others are refused and counted', async (t) => {
  const { store } = await countedStore(t);
  const metrics = createMetrics();
  const ownership = durableOwnership(store, metrics);
  await ownership.check(client('a'), 'd', 's');
  await ownership.check(client('a'), 'd', 's');
  await assert.rejects(ownership.check(client('b'), 'd', 's'), (error: unknown) => {
    assert.ok(refused(error));
    assert.equal((error as Error).message, 'durable "d" on subject "s" belongs to another client');
    return true;
  });
  await ownership.check(client('b'), 'd', 'other');
  await assert.rejects(ownership.check(anonymous, 'd', 's'), refused);
  const exported = await metrics.registry.getSingleMetricAsString(AUTH_FAILURES);
  assert.match(exported, /reason="permission_denied"} 2$/m);
});

test('anonymous callers share the durables they claim; clients cannot reach them', async (t) => {
  const { store } = await countedStore(t);
  const ownership = durableOwnership(store, createMetrics());
  await ownership.check(anonymous, 'shared', 's');
  await ownership.check(anonymous, 'shared', 's');
  await assert.rejects(ownership.check(client('a'), 'shared', 's'), refused);
});

test('with auth disabled nothing is claimed', async (t) => {
  const { store, claims } = await countedStore(t);
  const ownership = durableOwnership(store, createMetrics());
  await ownership.check(undefined, 'd', 's');
  assert.equal(claims(), 0);
  assert.equal(await store.claimConsumer('d', 's', 'a'), true, 'the durable is still free');
});

test('confirmed ownership is remembered, within the cache bound', async (t) => {
  const { store, claims } = await countedStore(t);
  const ownership = durableOwnership(store, createMetrics(), 2);
  for (let round = 0; round < 3; round++) await ownership.check(client('a'), 'd1', 's');
  assert.equal(claims(), 1, 'steady state needs no store call');
  await assert.rejects(ownership.check(client('b'), 'd1', 's'), refused);
  await assert.rejects(ownership.check(client('b'), 'd1', 's'), refused);
  assert.equal(claims(), 3, 'refusals are not cached: the store stays the judge');
  await ownership.check(client('a'), 'd2', 's');
  await ownership.check(client('a'), 'd3', 's');
  assert.equal(ownership.confirmed(client('a'), 'd1', 's'), false, 'the oldest entry was forgotten');
  await ownership.check(client('a'), 'd1', 's');
  assert.equal(claims(), 6, 'and claimed again');
});

test('confirmed tells whether check would ask the store', async (t) => {
  const { store, claims } = await countedStore(t);
  const ownership = durableOwnership(store, createMetrics());
  assert.equal(ownership.confirmed(undefined, 'd', 's'), true, 'auth disabled: nothing to ask');
  assert.equal(ownership.confirmed(client('a'), 'd', 's'), false, 'never claimed');
  await ownership.check(client('a'), 'd', 's');
  assert.equal(ownership.confirmed(client('a'), 'd', 's'), true);
  assert.equal(ownership.confirmed(client('b'), 'd', 's'), false, 'another owner');
  assert.equal(ownership.confirmed(anonymous, 'd', 's'), false, 'the anonymous owner is another owner');
  assert.equal(claims(), 1, 'confirmed itself asks nothing');
});
