import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { collect } from '../testing/conformance-harness.js';
import { buildOnce, runMts } from '../testing/mts-process.js';
import { startTestServices } from '../testing/test-services.js';

before(() => buildOnce());

const unlimited = { maxMessages: 100, maxBytes: 1024 ** 2 };

test('publish --msg-id prints the first sequence for a repeat and says it was a duplicate', async (t) => {
  const services = await startTestServices(t);
  const urls = ['--ingress', services.ingress.url, '--egress', services.egress.url];
  const first = await runMts(['publish', 'orders.paid', '--data', 'one', '--msg-id', 'order-17', ...urls]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout.toString(), '1\n');
  assert.equal(first.stderr, '');

  const repeat = await runMts(['publish', 'orders.paid', '--data', 'one', '--msg-id', 'order-17', ...urls]);
  assert.equal(repeat.code, 0, repeat.stderr);
  assert.equal(repeat.stdout.toString(), '1\n');
  assert.match(repeat.stderr, /^mts: duplicate of sequence 1: msg-id order-17 .*nothing stored\n$/);

  const json = await runMts(['publish', 'orders.paid', '--data', 'one', '--msg-id', 'order-17', '--json', ...urls]);
  assert.deepEqual(JSON.parse(json.stdout.toString()), { sequence: '1', objectName: '', duplicate: true });
  const other = await runMts(['publish', 'orders.paid', '--data', 'two', '--msg-id', 'order-18', '--json', ...urls]);
  assert.deepEqual(JSON.parse(other.stdout.toString()), { sequence: '2', objectName: '', duplicate: false });

  const stored = await collect(services.store.read('orders.paid', 0n, unlimited));
  assert.deepEqual(
    stored.map((message) => message.headers['msg-id']),
    ['order-17', 'order-18'],
  );
  const disagree = await runMts(['publish', 'orders.paid', '--data', 'x', '--msg-id', 'a', '-H', 'msg-id=b', ...urls]);
  assert.equal(disagree.code, 2);
});

test('publish retries an ambiguous unavailable with the same msg-id, so the message is stored once', async (t) => {
  let failedAfterCommit = 0;
  // The first publish commits, then its answer is lost: what a crash after the commit looks like to the client.
  const loseFirstAnswer: Interceptor = (next) => async (request) => {
    const response = await next(request);
    if (request.method.name === 'Publish' && failedAfterCommit++ === 0) throw new ConnectError('connection lost', Code.Unavailable);
    return response;
  };
  const services = await startTestServices(t, { interceptors: [loseFirstAnswer] });
  const urls = ['--ingress', services.ingress.url, '--egress', services.egress.url];
  const published = await runMts(['publish', 'jobs', '--data', 'once', '--json', ...urls]);
  assert.equal(published.code, 0, published.stderr);
  // A generated id's duplicate is the command's own first attempt: the message was stored once, as asked.
  assert.deepEqual(JSON.parse(published.stdout.toString()), { sequence: '1', objectName: '', duplicate: false });
  assert.equal(failedAfterCommit, 2, 'the command tried twice');
  assert.equal(await services.store.lastSequence('jobs'), 1n);
});
