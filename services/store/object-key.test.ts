import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newObjectKey, subjectKeyPart } from './object-key.js';

test('a subject is one readable key segment: letters, digits, dot, dash and underscore stay, the rest is encoded', () => {
  assert.equal(subjectKeyPart('orders.created-v2_eu'), 'orders.created-v2_eu');
  assert.equal(subjectKeyPart('/x'), '%2Fx');
  assert.equal(subjectKeyPart('a/./b'), 'a%2F.%2Fb');
  assert.equal(subjectKeyPart('%2F'), '%252F');
  assert.equal(subjectKeyPart("a'(b)!~"), 'a%27%28b%29%21%7E');
  assert.equal(subjectKeyPart('é'), '%C3%A9');
  assert.match(subjectKeyPart('😀:x'), /^[A-Za-z0-9._%-]+$/);
  assert.equal(decodeURIComponent(subjectKeyPart('a/b:c é')), 'a/b:c é');
});

test('keys are the encoded subject, a time-ordered id and random bits', () => {
  const key = newObjectKey('//x', 0x123);
  assert.match(key, /^%2F%2Fx\/000000000123-[0-9a-f]{16}$/);
  assert.notEqual(newObjectKey('a', 1), newObjectKey('a', 1));
  assert.ok(Buffer.byteLength(newObjectKey('😀'.repeat(63) + 'abc')) <= 1024);
});
