import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';
import { batchSize, checkDurableName, checkHeaders, checkSequence, checkSubject, limits } from './validation.js';

function assertInvalid(run: () => unknown, pattern: RegExp) {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConnectError);
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, pattern);
    return true;
  });
}

test('subjects: dot-separated tokens of 1-255 bytes, no wildcard, whitespace or control character', () => {
  for (const subject of ['a', 'orders.created', 'a-b_c/d:e.0.9', 'x'.repeat(255), 'é'.repeat(127)]) {
    assert.equal(checkSubject(subject), subject);
  }
  assertInvalid(() => checkSubject(''), /required/);
  assertInvalid(() => checkSubject('x'.repeat(256)), /longer than 255/);
  assertInvalid(() => checkSubject('é'.repeat(128)), /longer than 255/);
  for (const subject of ['a..b', '.a', 'a.']) assertInvalid(() => checkSubject(subject), /empty token/);
  for (const subject of ['a.*', 'a.>', '*', 'a*b']) assertInvalid(() => checkSubject(subject), /wildcard/);
  for (const subject of ['a b', 'a\tb', 'a\nb', 'a\u0000b', 'a\u007fb', ' a']) assertInvalid(() => checkSubject(subject), /whitespace/);
  for (const subject of ['/x', 'x/', '//x', 'a/./b', '%2F', 'a:b', '😀']) assert.equal(checkSubject(subject), subject);
  assertInvalid(() => checkSubject('a\ud800'), /well-formed/);
});

test('durable names: 1-255 bytes without whitespace', () => {
  assert.equal(checkDurableName('worker-1'), 'worker-1');
  assertInvalid(() => checkDurableName(''), /required/);
  assertInvalid(() => checkDurableName('a b'), /whitespace/);
  assertInvalid(() => checkDurableName('d'.repeat(256)), /longer than 255/);
});

test('headers: bounded in count, name, value and total size', () => {
  assert.deepEqual(checkHeaders({ 'content-type': 'text/plain' }), { 'content-type': 'text/plain' });
  const many = Object.fromEntries(Array.from({ length: limits.headerMaxCount + 1 }, (_, i) => [`h${i}`, 'v']));
  assertInvalid(() => checkHeaders(many), /more than 64 headers/);
  assertInvalid(() => checkHeaders({ '': 'v' }), /non-empty HTTP token/);
  for (const name of ['a b', 'a:b', 'é', 'a\nb']) assertInvalid(() => checkHeaders({ [name]: 'v' }), /HTTP token/);
  assertInvalid(() => checkHeaders({ ['n'.repeat(limits.headerNameMaxBytes + 1)]: 'v' }), /header name .* longer than/);
  assertInvalid(() => checkHeaders({ big: 'v'.repeat(limits.headerValueMaxBytes + 1) }), /header "big" is longer than/);
  const large = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, 'v'.repeat(limits.headerValueMaxBytes)]));
  assertInvalid(() => checkHeaders(large), /in all/);
});

test('header values: text without control characters; content-type is visible ASCII', () => {
  const accepted = { 'x-note': 'é € 😀', 'content-type': 'text/plain; charset=utf-8', 'x-empty': '' };
  assert.deepEqual(checkHeaders(accepted), accepted);
  assert.deepEqual(checkHeaders({ 'content-type': '' }), { 'content-type': '' });
  for (const value of ['a\r\nb', 'a\u0000', 'a\u007f', 'a\u0085', 'a\tb']) {
    assertInvalid(() => checkHeaders({ 'x-note': value }), /control character/);
  }
  for (const value of ['text/€', 'text/é', ' text/plain', 'text/plain ']) {
    assertInvalid(() => checkHeaders({ 'content-type': value }), /visible ASCII/);
    assertInvalid(() => checkHeaders({ 'Content-Type': value }), /visible ASCII/);
  }
  assertInvalid(() => checkHeaders({ 'x-note': 'a\udc00' }), /well-formed/);
});

test('batch size: 0 is the default, above the maximum is capped, negative is rejected', () => {
  assert.equal(batchSize(0), limits.batchDefault);
  assert.equal(batchSize(5), 5);
  assert.equal(batchSize(limits.batchMax + 1), limits.batchMax);
  assertInvalid(() => batchSize(-1), /negative/);
});

test('acked sequences start at 1', () => {
  assert.equal(checkSequence(1n, 'sequence'), 1n);
  assertInvalid(() => checkSequence(0n, 'sequence'), /sequence must be at least 1/);
});

test('bad input over the wire is INVALID_ARGUMENT, never UNKNOWN or INTERNAL', async (t) => {
  const services = await startTestServices(t);
  const ingress = ingressClient(services);
  const egress = egressClient(services, 'connect');
  const invalidArgument = (error: unknown) => error instanceof ConnectError && error.code === Code.InvalidArgument;
  await assert.rejects(ingress.publish({ subject: '' }), invalidArgument);
  await assert.rejects(ingress.publish({ subject: 'a.*' }), invalidArgument);
  await assert.rejects(ingress.publish({ subject: 'ok', headers: { 'bad name': 'v' } }), invalidArgument);
  await assert.rejects(egress.ackMessage({ subject: 'ok', durableName: 'd', sequence: 0n }), invalidArgument);
  await assert.rejects(egress.getLastSequence({ subject: 'a..b' }), invalidArgument);
  await assert.rejects(async () => {
    for await (const message of egress.fetch({ subject: 'ok', durableName: 'd', batchSize: -1 }))
      assert.fail(`unexpected ${message.sequence}`);
  }, invalidArgument);
  await assert.rejects(async () => {
    for await (const note of egressClient(services).subscribe({ subject: 'ok', durableName: '' }))
      assert.fail(`unexpected ${note.sequence}`);
  }, invalidArgument);
});
