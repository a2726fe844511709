import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalescedAcks } from './coalesced-acks.js';

/** An ack call the test answers by hand. */
function manualSend() {
  const calls: { sequence: bigint; answer(error?: Error): void }[] = [];
  const send = (sequence: bigint) =>
    new Promise<void>((resolve, reject) => calls.push({ sequence, answer: (error) => (error ? reject(error) : resolve()) }));
  return { calls, send };
}

test('acks sent while one is in flight collapse into one call for the highest sequence', async () => {
  const { calls, send } = manualSend();
  const acks = coalescedAcks(send, () => assert.fail('no ack failed'));
  acks.ack(5n);
  acks.ack(7n);
  acks.ack(6n);
  acks.ack(9n);
  assert.deepEqual(
    calls.map((call) => call.sequence),
    [5n],
  );
  const flushed = acks.flush();
  calls[0]!.answer();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(
    calls.map((call) => call.sequence),
    [5n, 9n],
  );
  calls[1]!.answer();
  await flushed;
  acks.ack(9n);
  acks.ack(3n);
  assert.equal(calls.length, 2, 'nothing at or below an acknowledged sequence is sent again');
});

test('the first failed ack stops the acking and is thrown by flush', async () => {
  const { calls, send } = manualSend();
  const failures: unknown[] = [];
  const acks = coalescedAcks(send, (error) => failures.push(error));
  acks.ack(1n);
  acks.ack(2n);
  const lost = new Error('connection reset');
  calls[0]!.answer(lost);
  await assert.rejects(acks.flush(), lost);
  assert.deepEqual(failures, [lost]);
  acks.ack(3n);
  assert.equal(calls.length, 1);
});
