import assert from 'node:assert/strict';
import test from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mapOrdered } from './map-ordered.js';

test('results come in input order whatever order the work finishes in', async () => {
  const delays = [40, 5, 20, 1, 30];
  const results: number[] = [];
  for await (const result of mapOrdered(delays, 2, async (delay) => (await sleep(delay), delay))) results.push(result);
  assert.deepEqual(results, delays);
});

test('stopping early aborts and awaits the work still running', async () => {
  const settled: number[] = [];
  const work = async (item: number, signal: AbortSignal): Promise<number> => {
    try {
      await sleep(item === 0 ? 0 : 5000, undefined, { signal });
      return item;
    } finally {
      settled.push(item);
    }
  };
  for await (const result of mapOrdered([0, 1, 2, 3], 3, work)) {
    assert.equal(result, 0);
    break;
  }
  assert.deepEqual(settled.sort(), [0, 1, 2, 3], 'every started call finished before the loop ended');
});

test('a failure ends the sequence after the results before it', async () => {
  const results: number[] = [];
  const work = async (item: number): Promise<number> => {
    if (item === 2) throw new Error('boom');
    return item;
  };
  await assert.rejects(async () => {
    for await (const result of mapOrdered([1, 2, 3], 2, work)) results.push(result);
  }, /boom/);
  assert.deepEqual(results, [1]);
});
