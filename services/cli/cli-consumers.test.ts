import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildOnce, runMts } from '../testing/mts-process.js';
import { startTestServices } from '../testing/test-services.js';

before(() => buildOnce());

const jsonLines = (stdout: Buffer) =>
  stdout
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

test('mts consumer add|info|ls|rm, mts consume settling as told, and mts redrive', async (t) => {
  const services = await startTestServices(t);
  const urls = ['--ingress', services.ingress.url, '--egress', services.egress.url];
  const mts = async (...args: string[]) => {
    const result = await runMts([...args, ...urls]);
    assert.equal(result.code, 0, `mts ${args.join(' ')}: ${result.stderr}`);
    return result;
  };
  for (const data of ['one', 'two', 'three']) await mts('publish', 'orders.eu', '--data', data);

  const add = ['consumer', 'add', 'shaped', '--filter', 'orders.*', '--filter', 'refunds.>', '--ack', 'explicit'];
  const options = ['--ack-wait', '10s', '--max-deliver', '3', '--backoff', '1s,2s', '--dead-letter', 'orders-dead', '--deliver', 'seq:2'];
  const [created] = jsonLines((await mts(...add, ...options, '--json')).stdout);
  assert.deepEqual(created, {
    durable: 'shaped',
    filters: ['orders.*', 'refunds.>'],
    ack: 'explicit',
    ackWaitMs: '10000',
    maxDeliver: 3,
    backoffMs: ['1000', '2000'],
    maxAckPending: 1000,
    deliver: 'seq:2',
    deadLetter: 'orders-dead',
    delivered: '0',
    pending: '2',
    ackPending: '0',
    redelivered: '0',
    deadLettered: '0',
    waiting: 0,
    lagMs: null,
    positions: [],
  });
  await mts(...add, ...options);
  const conflict = await runMts([...add, '--ack-wait', '5s', ...urls]);
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, /^mts: already_exists: consumer shaped exists with a different .*ack_wait_ms/);
  const usage = await runMts(['consumer', 'add', 'workers', ...urls]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--filter SUBJECT is required/);
  await mts('consumer', 'rm', 'shaped');

  await mts('consumer', 'add', 'workers', '--filter', 'orders.*', '--ack', 'explicit', '--ack-wait', '1s', '--dead-letter', 'orders-dead');
  assert.match((await mts('consumer', 'ls')).stdout.toString(), /^DURABLE\s+FILTERS\s+ACK.*\nworkers\s+orders\.\*\s+explicit\s/);
  assert.match((await mts('consumers')).stdout.toString(), /\nworkers\s+orders\.\*\s+0\s+3\s+3\n$/, 'mts consumers shows its filters');

  const consumed = jsonLines((await mts('consume', 'workers', '--count', '2', '--json')).stdout);
  assert.deepEqual(
    consumed.map(({ subject, sequence, text, deliveryCount }) => ({ subject, sequence, text, deliveryCount })),
    [
      { subject: 'orders.eu', sequence: '1', text: 'one', deliveryCount: 1 },
      { subject: 'orders.eu', sequence: '2', text: 'two', deliveryCount: 1 },
    ],
  );
  // A frame the server leased before the first worker went away comes back after the 1 s lease, so counts may exceed 1 from here.
  const [peeked] = jsonLines((await mts('consume', 'workers', '--count', '1', '--no-ack', '--json')).stdout);
  assert.equal(peeked!.sequence, '3');
  const [info] = jsonLines((await mts('consumer', 'info', 'workers', '--json')).stdout);
  assert.equal(info!.ackPending, '1');
  assert.deepEqual(info!.positions, [{ subject: 'orders.eu', ackFloor: '2', delivered: '3', lastSequence: '3' }]);
  assert.match((await mts('consumer', 'info', 'workers')).stdout.toString(), /\n {2}ack pending +1 \(\d redelivered\)\n/);
  const text = await mts('consume', 'workers', '--count', '1', '--nak');
  assert.match(text.stdout.toString(), /^orders\.eu #3 .*\n(.*\n)* {2}minitoolstream-delivery-count: \d+\nthree\n$/);

  // Not acked: delivered again, each time with a higher count; a term dead-letters it.
  const [terminated] = jsonLines((await mts('consume', 'workers', '--count', '1', '--term', '--json')).stdout);
  assert.equal(terminated!.sequence, '3');
  assert.ok((terminated!.deliveryCount as number) > (peeked!.deliveryCount as number), 'a redelivery counts up');
  assert.equal((await mts('last', 'orders-dead')).stdout.toString(), '1\n');
  assert.deepEqual(jsonLines((await mts('redrive', 'orders-dead', '--json')).stdout), [{ redriven: '1' }]);
  assert.equal((await mts('last', 'orders.eu')).stdout.toString(), '4\n');

  assert.equal((await mts('consumer', 'rm', 'workers')).stdout.toString(), 'removed consumer workers\n');
  const gone = await runMts(['consumer', 'info', 'workers', ...urls]);
  assert.equal(gone.code, 1);
  assert.equal(gone.stderr, 'mts: not_found: consumer workers is not configured\n');
  assert.equal((await runMts(['consumer', 'ls', ...urls])).stderr, 'mts: no configured consumers\n');
});

test('bench drain times a cumulative Consume, then an explicit-ack consumer with each number of workers', async (t) => {
  const services = await startTestServices(t);
  const urls = ['--ingress', services.ingress.url, '--egress', services.egress.url];
  const drain = await runMts(['bench', 'drain', '--messages', '1500', '--workers', '1,3', '--json', ...urls]);
  assert.equal(drain.code, 0, drain.stderr);
  const results = jsonLines(drain.stdout);
  assert.deepEqual(
    results.map(({ mode, workers, messages }) => ({ mode, workers, messages })),
    [
      { mode: 'cumulative', workers: 1, messages: 1500 },
      { mode: 'explicit', workers: 1, messages: 1500 },
      { mode: 'explicit', workers: 3, messages: 1500 },
    ],
  );
  for (const result of results) assert.ok((result.messagesPerSecond as number) > 0);
  const left = await runMts(['consumer', 'ls', ...urls]);
  assert.equal(left.stderr, 'mts: no configured consumers\n', 'the benchmark removes its consumers');
});
