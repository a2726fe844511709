import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { AckKind, AckPolicy, DeliverPolicy, EgressService, type ConsumerInfo } from '../../gen/minitoolstream/egress_pb.js';
import {
  CONSUMER_ACK_PENDING,
  CONSUMER_DEAD_LETTERED,
  CONSUMER_LAG_SECONDS,
  CONSUMER_REDELIVERED,
  otherConsumers,
} from '../platform/consumer-metrics.js';
import { deadLetterHeaders } from '../store/consumers.js';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { collect, eventually, payload } from '../testing/conformance-harness.js';
import { metricValue } from '../testing/metric-value.js';
import { openWorker } from '../testing/configured-consumer.js';
import { testBackends } from '../testing/store-backends.js';
import { egressClient, startTestServices, type TestServices } from '../testing/test-services.js';
import { createTestKeys } from '../testing/test-tokens.js';

async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  const error = await call.then(
    () => assert.fail('the call succeeded'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof ConnectError);
  return error;
}

async function publish(services: TestServices, subject: string, count: number): Promise<void> {
  await services.store.publish(Array.from({ length: count }, (_, index) => ({ subject, data: payload(16, index), headers: {} })));
}

const positionsOf = (info: ConsumerInfo) =>
  info.positions.map(({ subject, ackFloor, delivered, lastSequence }) => ({ subject, ackFloor, delivered, lastSequence }));

for (const backend of testBackends) {
  test(`configured consumers on ${backend.name}: create, update, delete and what they refuse`, async (t) => {
    const services = await startTestServices(t, { backend });
    const egress = egressClient(services);
    const config = { durableName: 'workers', filterSubjects: ['orders.*'], ackPolicy: AckPolicy.EXPLICIT };

    const created = await egress.createConsumer({ config });
    assert.equal(created.durableName, 'workers');
    assert.equal(created.subject, '');
    assert.deepEqual(
      [created.config?.ackWaitMs, created.config?.maxAckPending, created.config?.maxDeliver, created.config?.ackPolicy],
      [30_000n, 1000, 0, AckPolicy.EXPLICIT],
      'defaults are spelled out',
    );
    assert.equal((await egress.createConsumer({ config })).config?.ackWaitMs, 30_000n, 'the same configuration again is accepted');

    const conflict = await rejection(egress.createConsumer({ config: { ...config, ackWaitMs: 5000n } }));
    assert.equal(conflict.code, Code.AlreadyExists);
    assert.match(conflict.rawMessage, /ack_wait_ms/);
    const unchangeable = await rejection(egress.updateConsumer({ config: { ...config, ackPolicy: AckPolicy.ALL } }));
    assert.equal(unchangeable.code, Code.FailedPrecondition);
    assert.match(unchangeable.rawMessage, /ack_policy/);
    const updated = await egress.updateConsumer({ config: { ...config, ackWaitMs: 5000n, maxDeliver: 3 } });
    assert.deepEqual([updated.config?.ackWaitMs, updated.config?.maxDeliver], [5000n, 3]);
    assert.equal((await egress.getConsumerInfo({ durableName: 'workers', subject: '' })).config?.ackWaitMs, 5000n);

    const invalid = await rejection(egress.createConsumer({ config: { durableName: 'x', filterSubjects: ['a.>', 'a.b'] } }));
    assert.equal(invalid.code, Code.InvalidArgument);
    assert.match(invalid.rawMessage, /filter_subjects "a.>" and "a.b" overlap/);
    assert.equal((await rejection(egress.updateConsumer({ config: { ...config, durableName: 'nobody' } }))).code, Code.NotFound);

    await egress.deleteConsumer({ durableName: 'workers' });
    assert.equal((await rejection(egress.deleteConsumer({ durableName: 'workers' }))).code, Code.NotFound);
    assert.equal((await rejection(egress.getConsumerInfo({ durableName: 'workers', subject: '' }))).code, Code.NotFound);
  });

  test(`configured consumers on ${backend.name}: info, listing, metrics, dead letters and redrive`, async (t) => {
    const services = await startTestServices(t, { backend, env: { CONSUMER_METRICS_NAMES: 'workers' } });
    const egress = egressClient(services);
    const egressUrl = services.egress.url;
    await publish(services, 'orders.eu', 3);
    await publish(services, 'orders.us', 2);
    await publish(services, 'refunds.eu', 1);
    await egress.createConsumer({
      config: { durableName: 'workers', filterSubjects: ['orders.*'], ackPolicy: AckPolicy.EXPLICIT, deadLetterSubject: 'orders-dead' },
    });
    await egress.createConsumer({ config: { durableName: 'auditors', filterSubjects: ['refunds.>'] } });

    const before = (durableName: string) => egress.getConsumerInfo({ durableName, subject: '' });
    assert.deepEqual(
      [(await before('workers')).pending, (await before('workers')).positions],
      [5n, []],
      'pending before any stream started',
    );
    assert.equal((await before('auditors')).pending, 1n);
    await egress.createConsumer({
      config: { durableName: 'late', filterSubjects: ['orders.*'], deliverPolicy: DeliverPolicy.BY_START_SEQUENCE, optStartSequence: 3n },
    });
    assert.equal((await before('late')).pending, 1n, 'from sequence 3 on: orders.eu 3, nothing of orders.us');
    await egress.deleteConsumer({ durableName: 'late' });

    const worker = openWorker(t, egress, 'workers');
    const delivered = await worker.deliveries(5);
    const info = await egress.getConsumerInfo({ durableName: 'workers', subject: '' });
    assert.deepEqual(positionsOf(info), [
      { subject: 'orders.eu', ackFloor: 0n, delivered: 3n, lastSequence: 3n },
      { subject: 'orders.us', ackFloor: 0n, delivered: 2n, lastSequence: 2n },
    ]);
    assert.deepEqual(
      [info.delivered, info.ackPending, info.redelivered, info.pending, info.waiting, info.deadLettered],
      [5n, 5n, 0n, 0n, 1, 0n],
    );
    assert.ok(info.lagMs !== undefined, 'unacked messages give a lag');

    const listed = (subject: string) => egress.listConsumers({ subject }).then(({ consumers }) => consumers.map((c) => c.durableName));
    assert.deepEqual(await listed('orders.eu'), ['workers']);
    assert.deepEqual(await listed('refunds.eu'), ['auditors']);
    assert.deepEqual((await listed('')).sort(), ['auditors', 'workers']);
    assert.deepEqual(await listed('orders.eu.late'), [], 'orders.* is one token only');

    assert.equal(await metricValue(egressUrl, CONSUMER_ACK_PENDING, { consumer: 'workers' }), 5);
    assert.equal(await metricValue(egressUrl, CONSUMER_ACK_PENDING, { consumer: otherConsumers }), 0, 'auditors has nothing leased');
    assert.equal(await metricValue(egressUrl, CONSUMER_REDELIVERED, { consumer: 'workers' }), 0);
    assert.ok((await metricValue(egressUrl, CONSUMER_LAG_SECONDS, { consumer: 'workers' })) >= 0, 'the lag is exported');
    assert.ok(
      Number.isNaN(await metricValue(egressUrl, CONSUMER_ACK_PENDING, { consumer: 'auditors' })),
      'an unnamed consumer has no series',
    );

    // Ack four, terminate the first of orders.us: it becomes a dead letter.
    const [terminated] = delivered.filter((message) => message.subject === 'orders.us');
    const acks = delivered.map(({ subject, sequence }) => ({
      subject,
      sequence,
      kind: subject === terminated!.subject && sequence === terminated!.sequence ? AckKind.TERM : AckKind.ACK,
    }));
    await egress.ackMessages({ durableName: 'workers', acks });
    worker.close();
    const settled = await egress.getConsumerInfo({ durableName: 'workers', subject: '' });
    assert.deepEqual([settled.ackPending, settled.deadLettered, settled.lagMs], [0n, 1n, undefined]);
    assert.equal(await metricValue(egressUrl, CONSUMER_DEAD_LETTERED, { consumer: 'workers' }), 1);
    await eventually(async () => (await egress.getConsumerInfo({ durableName: 'workers', subject: '' })).waiting === 0, 10_000);

    const dead = await services.store.lastSequence('orders-dead');
    assert.equal(dead, 1n);
    const [letter] = await collect(services.store.read('orders-dead', 0n, { maxMessages: 10, maxBytes: 1 << 20 }));
    assert.equal(letter!.headers[deadLetterHeaders.subject], 'orders.us');
    assert.equal(letter!.headers[deadLetterHeaders.reason], 'term');

    assert.equal((await egress.redrive({ deadLetterSubject: 'orders-dead' })).redriven, 1n);
    assert.equal(await services.store.lastSequence('orders.us'), 3n, 'the dead letter is back as a new message');
    const [back] = await collect(services.store.read('orders.us', 2n, { maxMessages: 10, maxBytes: 1 << 20 }));
    assertSameBytes(back!.data, terminated!.data, 'the redriven payload');
    assert.equal(back!.headers[deadLetterHeaders.subject], undefined, 'without the dead-letter headers');
    assert.equal((await egress.redrive({ deadLetterSubject: 'orders-dead' })).redriven, 0n, 'nothing is left to move');
    const again = openWorker(t, egress, 'workers');
    assert.deepEqual(
      (await again.deliveries(1)).map(({ subject, sequence }) => [subject, sequence]),
      [['orders.us', 3n]],
    );
  });
}

test('configuring consumers and redriving need admin; a token sees a configured consumer only on its subjects', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  const as = (token: string) =>
    createClient(
      EgressService,
      createGrpcTransport({
        baseUrl: services.egress.url,
        interceptors: [(next) => (request) => (request.header.set('authorization', `Bearer ${token}`), next(request))],
      }),
    );
  const admin = as(await keys.token({ permissions: ['admin', 'fetch'] }));
  const reader = as(await keys.token({ permissions: ['fetch', 'subscribe'], subjects: ['orders.eu.*'] }));
  const outsider = as(await keys.token({ permissions: ['fetch'], subjects: ['billing.*'] }));
  await publish(services, 'orders.eu.x', 1);
  await publish(services, 'orders.us.x', 1);
  const config = { durableName: 'workers', filterSubjects: ['orders.>'] };

  assert.equal((await rejection(reader.createConsumer({ config }))).code, Code.PermissionDenied);
  await admin.createConsumer({ config });
  assert.equal((await rejection(reader.updateConsumer({ config }))).code, Code.PermissionDenied);
  assert.equal((await rejection(reader.redrive({ deadLetterSubject: 'orders-dead' }))).code, Code.PermissionDenied);
  assert.equal((await rejection(reader.deleteConsumer({ durableName: 'workers' }))).code, Code.PermissionDenied);

  const worker = openWorker(t, admin, 'workers');
  await worker.deliveries(2);
  const seen = await reader.getConsumerInfo({ durableName: 'workers', subject: '' });
  assert.deepEqual(
    seen.positions.map((position) => position.subject),
    ['orders.eu.x'],
    'positions only on subjects the token may fetch',
  );
  assert.equal((await rejection(outsider.getConsumerInfo({ durableName: 'workers', subject: '' }))).code, Code.NotFound);
  assert.deepEqual((await outsider.listConsumers({ subject: '' })).consumers, []);
  await admin.deleteConsumer({ durableName: 'workers' });
});
