import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code } from '@connectrpc/connect';
import { AckKind, AckOutcome } from '../../gen/minitoolstream/egress_pb.js';
import { consumerConfig, messageKey, openWorker, type Worker } from '../testing/configured-consumer.js';
import { egressClient, startTestServices, type Protocol } from '../testing/test-services.js';
import { createTestKeys } from '../testing/test-tokens.js';
import { createEgressService } from './connect.js';

const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];
const heartbeatMs = 200;

/** Only heartbeats for `ms`: nothing more is delivered in that time. */
async function onlyHeartbeats(worker: Worker, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) assert.deepEqual(await worker.frame(), [], 'nothing more is delivered');
}

test('a wildcard consumer delivers only the subjects the token may fetch, and acks are checked per subject', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, {
    env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile },
    egress: createEgressService({ consumeHeartbeatMs: heartbeatMs }),
  });
  const bearer = async (subjects: string[], permissions: string[]) => ({
    headers: { authorization: `Bearer ${await keys.token({ subjects, permissions })}` },
  });
  const publish = (subject: string) => services.store.publish([{ subject, data: Uint8Array.of(1), headers: {} }]);
  for (const protocol of protocols) {
    const egress = egressClient(services, protocol);
    for (const form of ['*', '>']) {
      // Each case on its own tree of subjects: `orders-grpc-*.eu.a` and so on.
      const root = `orders-${protocol}-${form === '*' ? 'original' : 'nats'}`;
      await t.test(`${protocol}: a token for ${root}.eu.${form} never receives ${root}.us.x`, async (t) => {
        for (const region of ['eu.a', 'us.x', 'eu.b']) await publish(`${root}.${region}`);
        await services.store.createConsumer(consumerConfig(root, [`${root}.>`]), Date.now());
        const callOptions = await bearer([`${root}.eu.${form}`], ['fetch']);
        const worker = openWorker(t, egress, root, { callOptions });
        assert.deepEqual((await worker.deliveries(2)).map(messageKey).sort(), [`${root}.eu.a:1`, `${root}.eu.b:1`]);
        await publish(`${root}.us.y`);
        await onlyHeartbeats(worker, 600);
        const acks = (subject: string) => ({ durableName: root, acks: [{ subject, sequence: 1n, kind: AckKind.ACK }] });
        await assert.rejects(egress.ackMessages(acks(`${root}.us.x`), callOptions), { code: Code.PermissionDenied });
        assert.deepEqual((await egress.ackMessages(acks(`${root}.eu.a`), callOptions)).outcomes, [AckOutcome.APPLIED]);
        worker.close();

        const everywhere = openWorker(t, egress, root, { callOptions: await bearer([`${root}.*`], ['fetch']) });
        assert.deepEqual(
          (await everywhere.deliveries(2)).map(messageKey).sort(),
          [`${root}.us.x:1`, `${root}.us.y:1`],
          'a token that may fetch them gets the rest',
        );
      });
    }
  }

  await t.test('a redelivery of a subject the token may not fetch is never sent to it', async (t) => {
    const egress = egressClient(services, 'grpc');
    await services.store.createConsumer(consumerConfig('mixed', ['mixed.>'], { ackWaitMs: 300 }), Date.now());
    await publish('mixed.us.x');
    const wide = await bearer(['mixed.*'], ['fetch']);
    const first = openWorker(t, egress, 'mixed', { callOptions: wide });
    assert.deepEqual((await first.deliveries(1)).map(messageKey), ['mixed.us.x:1']);
    first.close();
    // Its lease expires again and again while only a worker for mixed.eu.* is there.
    const narrow = openWorker(t, egress, 'mixed', { callOptions: await bearer(['mixed.eu.*'], ['fetch']) });
    await onlyHeartbeats(narrow, 1200);
    const [again] = await openWorker(t, egress, 'mixed', { callOptions: wide }).deliveries(1, 10_000);
    assert.equal(again && messageKey(again), 'mixed.us.x:1', 'a worker that may fetch it gets it back');
  });

  await t.test('Consume of a configured consumer needs a read permission; AckMessages too', async () => {
    await services.store.createConsumer(consumerConfig('guarded', ['guarded.>']), Date.now());
    const egress = egressClient(services);
    const publisher = await bearer(['*'], ['publish']);
    await assert.rejects(egress.consume({ subject: '', durableName: 'guarded' }, publisher)[Symbol.asyncIterator]().next(), {
      code: Code.PermissionDenied,
    });
    await assert.rejects(
      egress.ackMessages({ durableName: 'guarded', acks: [{ subject: 'guarded.a', sequence: 1n, kind: AckKind.ACK }] }, publisher),
      { code: Code.PermissionDenied },
    );
  });
});
