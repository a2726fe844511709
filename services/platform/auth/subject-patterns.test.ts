import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subjectAllowed } from './subject-patterns.js';

test('subject patterns as the original clients write them', () => {
  assert.ok(subjectAllowed([], 'anything.at.all'), 'empty allows all');
  assert.ok(subjectAllowed(['*'], 'a.b'));
  assert.ok(subjectAllowed(['a.*'], 'a'));
  assert.ok(subjectAllowed(['a.*'], 'a.b.c'));
  assert.ok(!subjectAllowed(['a.*'], 'ab'));
  assert.ok(!subjectAllowed(['a.*'], 'b.a'));
  assert.ok(subjectAllowed(['x', 'a.b'], 'a.b'));
  assert.ok(!subjectAllowed(['a.b'], 'a.b.c'), 'a plain pattern is exact');
  assert.ok(!subjectAllowed(['a.b'], 'a'));
});

test('token patterns also accept the NATS tail wildcard: > is everything, a.> everything below a', () => {
  assert.ok(subjectAllowed(['>'], 'a.b'));
  assert.ok(subjectAllowed(['a.>'], 'a.b'));
  assert.ok(subjectAllowed(['a.>'], 'a.b.c'));
  assert.ok(!subjectAllowed(['a.>'], 'a'), 'a.> needs at least one token below a');
  assert.ok(!subjectAllowed(['a.>'], 'ab.c'));
  assert.ok(!subjectAllowed(['orders.eu.>'], 'orders.us.x'));
});
