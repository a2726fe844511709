import assert from 'node:assert/strict';
import { test } from 'node:test';
import { patternMatches, patternsOverlap } from './subject-pattern.js';

test('filters match NATS style: * one token, > one or more trailing tokens', () => {
  assert.ok(patternMatches('orders.created', 'orders.created'));
  assert.ok(!patternMatches('orders.created', 'orders.created.eu'));
  assert.ok(patternMatches('orders.*', 'orders.eu'));
  assert.ok(!patternMatches('orders.*', 'orders'), '* needs a token');
  assert.ok(!patternMatches('orders.*', 'orders.eu.x'), '* is one token only');
  assert.ok(patternMatches('orders.*.paid', 'orders.eu.paid'));
  assert.ok(!patternMatches('orders.*.paid', 'orders.eu.sent'));
  assert.ok(patternMatches('orders.>', 'orders.eu'));
  assert.ok(patternMatches('orders.>', 'orders.eu.paid.late'));
  assert.ok(!patternMatches('orders.>', 'orders'), '> needs at least one token');
  assert.ok(!patternMatches('orders.>', 'ordersx.eu'));
  assert.ok(patternMatches('>', 'a'));
  assert.ok(patternMatches('*', 'a'));
  assert.ok(!patternMatches('*', 'a.b'));
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
    assert.ok(patternsOverlap(a, b), `${a} and ${b}`);
    assert.ok(patternsOverlap(b, a), `${b} and ${a}`);
  }
  for (const [a, b] of [
    ['a.b', 'a.c'],
    ['a.*', 'a.b.c'],
    ['a.*', 'a'],
    ['a.>', 'a'],
    ['a.*.c', 'a.b.d'],
    ['b.>', 'a.>'],
  ] as const) {
    assert.ok(!patternsOverlap(a, b), `${a} and ${b}`);
    assert.ok(!patternsOverlap(b, a), `${b} and ${a}`);
  }
});
