import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterMatches, filtersOverlap } from './subject-filter.js';

test('filters match NATS style: * one token, > one or more trailing tokens', () => {
  assert.ok(filterMatches('orders.created', 'orders.created'));
  assert.ok(!filterMatches('orders.created', 'orders.created.eu'));
  assert.ok(filterMatches('orders.*', 'orders.eu'));
  assert.ok(!filterMatches('orders.*', 'orders'), '* needs a token');
  assert.ok(!filterMatches('orders.*', 'orders.eu.x'), '* is one token only');
  assert.ok(filterMatches('orders.*.paid', 'orders.eu.paid'));
  assert.ok(!filterMatches('orders.*.paid', 'orders.eu.sent'));
  assert.ok(filterMatches('orders.>', 'orders.eu'));
  assert.ok(filterMatches('orders.>', 'orders.eu.paid.late'));
  assert.ok(!filterMatches('orders.>', 'orders'), '> needs at least one token');
  assert.ok(!filterMatches('orders.>', 'ordersx.eu'));
  assert.ok(filterMatches('>', 'a'));
  assert.ok(filterMatches('*', 'a'));
  assert.ok(!filterMatches('*', 'a.b'));
});

test('two filters overlap when some subject matches both', () => {
  for (const [a, b] of [
    ['a.b', 'a.b'],
    ['a.*', 'a.b'],
    ['a.>', 'a.b.c'],
    ['a.*.c', 'a.b.*'],
    ['>', 'x'],
    ['*.b', 'a.>'],
  ] as const) {
    assert.ok(filtersOverlap(a, b), `${a} and ${b}`);
    assert.ok(filtersOverlap(b, a), `${b} and ${a}`);
  }
  for (const [a, b] of [
    ['a.b', 'a.c'],
    ['a.*', 'a.b.c'],
    ['a.*', 'a'],
    ['a.>', 'a'],
    ['a.*.c', 'a.b.d'],
    ['b.>', 'a.>'],
  ] as const) {
    assert.ok(!filtersOverlap(a, b), `${a} and ${b}`);
    assert.ok(!filtersOverlap(b, a), `${b} and ${a}`);
  }
});
