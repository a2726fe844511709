import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createEgressService } from './connect.js';
import { createLagHistory } from './lag-history.js';
import { egressClient, startTestServices } from '../testing/test-services.js';

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
