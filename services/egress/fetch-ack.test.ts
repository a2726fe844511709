import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { payload } from '../testing/conformance-harness.js';
import { tarantoolBackend } from '../testing/tarantool-backend.js';
import { egressClient, startTestServices, type TestServices } from '../testing/test-services.js';

const MiB = 1024 * 1024;

async function publishMany(services: TestServices, subject: string, count: number, size = 8): Promise<void> {
  for (let first = 0; first < count; first += 200) {
    const batch = Array.from({ length: Math.min(200, count - first) }, (_, index) => ({
      subject,
      data: payload(size, first + index),
      headers: {},
    }));
    await services.store.publish(batch);
  }
}

test('Fetch and Ack: same batch until acked, monotonic floor, bounded batches', async (t) => {
  const services = await startTestServices(t, { backend: tarantoolBackend });
  const egress = egressClient(services);
  const subject = 'ledger.entries';
  const consumer = { subject, durableName: 'books' };
  const fetchSequences = async (batchSize: number, target = consumer) => {
    const sequences: bigint[] = [];
    for await (const message of egress.fetch({ ...target, batchSize })) sequences.push(message.sequence);
    return sequences;
  };
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => BigInt(from + index));
  await publishMany(services, subject, 1200);

  await t.test('batch_size 0 means 10, and without an ack Fetch returns the same batch', async () => {
    assert.deepEqual(await fetchSequences(0), range(1, 10));
    assert.deepEqual(await fetchSequences(0), range(1, 10));
  });

  await t.test('an ack moves the floor; an older ack is a no-op', async () => {
    assert.deepEqual(await egress.ackMessage({ ...consumer, sequence: 10n }), {
      $typeName: 'minitoolstream.AckResponse',
      success: true,
      errorMessage: '',
    });
    assert.deepEqual(await fetchSequences(3), range(11, 13));
    await egress.ackMessage({ ...consumer, sequence: 4n });
    assert.deepEqual(await fetchSequences(3), range(11, 13));
  });

  await t.test('an ack past the last sequence is FAILED_PRECONDITION and changes nothing', async () => {
    await assert.rejects(
      egress.ackMessage({ ...consumer, sequence: 1201n }),
      (error) => ConnectError.from(error).code === Code.FailedPrecondition,
    );
    assert.deepEqual(await fetchSequences(1), [11n]);
  });

  await t.test('a batch of 5000 is capped at 1000', async () => {
    assert.deepEqual(await fetchSequences(5000, { subject, durableName: 'bulk' }), range(1, 1000));
  });

  await t.test('a byte budget bounds a batch of big messages', async () => {
    const big = 'ledger.scans';
    await services.store.publish(Array.from({ length: 4 }, (_, index) => ({ subject: big, data: payload(6 * MiB, index), headers: {} })));
    const sequences = await fetchSequences(10, { subject: big, durableName: 'scanner' });
    assert.ok(sequences.length >= 1 && sequences.length < 4, `got ${sequences.length} of 4 messages of 6 MiB in one batch`);
    assert.deepEqual(sequences, range(1, sequences.length));
  });
});
