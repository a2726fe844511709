import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { AckPolicy, ConsumerConfigSchema } from '../../gen/minitoolstream/egress_pb.js';
import { createEgressService } from './connect.js';
import { consumerConfigFromWire } from './consumer-config.js';
import { createLagHistory } from './lag-history.js';
import { eventually } from '../testing/conformance-harness.js';
import { egressClient, startTestServices } from '../testing/test-services.js';
import { createTestKeys } from '../testing/test-tokens.js';

test('ConsumerLagHistory: pending rises while a consumer stops acking and falls when it acks', async (t) => {
  const services = await startTestServices(t, { egress: createEgressService({ lagSampleMs: 20 }) });
  const egress = egressClient(services, 'connect');
  const subject = 'lag.orders';
  const publish = (count: number) =>
    services.store.publish(Array.from({ length: count }, () => ({ subject, data: new Uint8Array([1]), headers: {} })));
  const pendingSeen = async (pending: bigint) => {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await delay(20)) {
      const { consumers } = await egress.consumerLagHistory({ subject });
      const samples = consumers.find((consumer) => consumer.durableName === 'billing')?.samples ?? [];
      if (samples.at(-1)?.pending === pending) return samples;
    }
    throw new Error(`no sample with ${pending} pending within 10 s`);
  };

  await publish(5);
  await egress.ackMessage({ subject, durableName: 'billing', sequence: 5n });
  await pendingSeen(0n);
  await publish(7);
  const rising = await pendingSeen(7n);
  assert.ok(
    rising.some((sample) => sample.pending === 0n),
    'the earlier samples are kept',
  );
  assert.ok(
    rising.every((sample, index) => index === 0 || sample.time!.seconds >= rising[index - 1]!.time!.seconds),
    'oldest first',
  );
  await egress.ackMessage({ subject, durableName: 'billing', sequence: 12n });
  await pendingSeen(0n);

  const { consumers: elsewhere } = await egress.consumerLagHistory({ subject: 'lag.other' });
  assert.deepEqual(elsewhere, []);
});

test('the lag history keeps at most `keep` samples and `maxConsumers` consumers', async (t) => {
  const services = await startTestServices(t);
  const stopped = new AbortController();
  t.after(() => stopped.abort());
  await services.store.publish([{ subject: 'bounded', data: new Uint8Array([1]), headers: {} }]);
  await services.store.ack('first', 'bounded', 1n);
  await services.store.ack('second', 'bounded', 1n);
  const history = createLagHistory({
    store: services.store,
    logger: services.logger,
    signal: stopped.signal,
    intervalMs: 10,
    keep: 3,
    maxConsumers: 1,
  });
  const newest = () => history.history(undefined)[0]?.samples.at(-1)?.timeMs ?? 0;
  // Three samples, then at least one more taken after them: the oldest must have gone.
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && (history.history(undefined)[0]?.samples.length ?? 0) < 3;)
    await delay(10);
  const third = newest();
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && newest() <= third;) await delay(10);
  assert.ok(newest() > third, 'a sample after the third');
  const kept = history.history(undefined);
  assert.equal(kept.length, 1);
  assert.equal(kept[0]!.samples.length, 3);
});

/** A configured consumer on every subject below orders, the defaults otherwise. */
const billing = consumerConfigFromWire(
  create(ConsumerConfigSchema, { durableName: 'billing', filterSubjects: ['orders.>'], ackPolicy: AckPolicy.EXPLICIT }),
);

test('configured consumers are sampled too: unsettled messages summed over their subjects', async (t) => {
  const services = await startTestServices(t);
  const { store } = services;
  const stopped = new AbortController();
  t.after(() => stopped.abort());
  await store.createConsumer(billing, Date.now());
  const publish = (subject: string, count: number) =>
    store.publish(Array.from({ length: count }, () => ({ subject, data: new Uint8Array([1]), headers: {} })));
  await publish('orders.eu', 3);
  await publish('orders.us', 2);
  await store.startConsumerSubjects('billing', [
    { subject: 'orders.eu', startAfter: 0n },
    { subject: 'orders.us', startAfter: 1n },
  ]);
  const history = createLagHistory({ store, logger: services.logger, signal: stopped.signal, intervalMs: 10 });
  const configured = () => history.history(undefined).find((entry) => entry.durable === 'billing');
  const unsettledSeen = (pending: bigint) => eventually(async () => configured()?.samples.at(-1)?.pending === pending, 10_000);

  await unsettledSeen(4n);
  assert.equal(configured()!.subject, '');
  assert.deepEqual(configured()!.shownBy, ['orders.>', 'orders.eu', 'orders.us']);
  const { messages } = await store.lease('billing', ['orders.eu', 'orders.us'], { maxMessages: 10, maxBytes: 1 << 20 }, Date.now());
  const acks = messages
    .filter((message) => message.subject === 'orders.eu')
    .map(({ subject, sequence }) => ({ subject, sequence, kind: 'ack' as const, delayMs: 0, deliveryCount: undefined }));
  assert.equal(acks.length, 3);
  await store.settle('billing', acks, Date.now());
  await unsettledSeen(1n);
  assert.deepEqual(history.history('orders.eu'), [], 'a configured consumer is listed only with every subject');
});

test('ConsumerLagHistory shows a configured consumer to a token that may see one of its filters', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, {
    env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile },
    egress: createEgressService({ lagSampleMs: 20 }),
  });
  await services.store.createConsumer(billing, Date.now());
  const egress = egressClient(services, 'connect');
  const durablesSeenBy = async (subjects: string[]) => {
    const authorization = `Bearer ${await keys.token({ subjects, permissions: ['fetch'] })}`;
    const { consumers } = await egress.consumerLagHistory({ subject: '' }, { headers: { authorization } });
    return consumers.map((consumer) => consumer.durableName);
  };
  await eventually(async () => (await durablesSeenBy(['*'])).includes('billing'), 10_000);
  assert.deepEqual(await durablesSeenBy(['orders.*']), ['billing']);
  assert.deepEqual(await durablesSeenBy(['invoices.*']), []);
});
