import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPayloadBudget } from './payload-budget.js';
import { PayloadBudgetExceededError } from './store.js';

test('reservations that fit are immediate; the rest wait for a release', async () => {
  const budget = createPayloadBudget({ maxBytes: 100, waitMs: 10_000 });
  const first = await budget.acquire(60);
  const second = await budget.acquire(40);
  assert.equal(budget.inFlightBytes, 100);
  let admitted = false;
  const third = budget.acquire(50).then((release) => {
    admitted = true;
    return release;
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(admitted, false, 'no room yet');
  first();
  first();
  const release = await third;
  assert.equal(budget.inFlightBytes, 90, 'a second release of the same reservation does nothing');
  second();
  release();
  assert.equal(budget.inFlightBytes, 0);
});

test('a wait longer than the budget allows is PayloadBudgetExceededError naming the limit', async () => {
  const budget = createPayloadBudget({ maxBytes: 100, waitMs: 20, limitName: 'PAYLOAD_IN_FLIGHT_MAX_BYTES' });
  const held = await budget.acquire(80);
  await assert.rejects(budget.acquire(30), (error: unknown) => {
    assert.ok(error instanceof PayloadBudgetExceededError);
    assert.match(error.message, /30 payload bytes waited 20 ms for room: 80 of 100 bytes \(PAYLOAD_IN_FLIGHT_MAX_BYTES\)/);
    return true;
  });
  held();
  assert.equal(budget.inFlightBytes, 0, 'a refused reservation holds nothing');
});

test('more than the whole budget runs alone; an abort stops the wait', async () => {
  const budget = createPayloadBudget({ maxBytes: 100, waitMs: 10_000 });
  const small = await budget.acquire(10);
  const controller = new AbortController();
  const huge = budget.acquire(500, controller.signal);
  controller.abort(new Error('caller left'));
  await assert.rejects(huge, /caller left/);
  small();
  const alone = await budget.acquire(500);
  assert.equal(budget.inFlightBytes, 500);
  alone();
});
