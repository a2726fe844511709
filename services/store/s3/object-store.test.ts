import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { freePort } from '../../testing/free-port.js';
import { startS3Server, type S3Server } from '../../testing/s3-server.js';
import { ObjectMissingError, StoreUnavailableError } from '../store.js';
import { openMinioObjectStore } from './object-store.js';

function openStore(t: TestContext, server: Pick<S3Server, 'host' | 'port' | 'accessKey' | 'secretKey'>) {
  const store = openMinioObjectStore({
    host: server.host,
    port: server.port,
    useSSL: false,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
    bucket: 'minitoolstream',
  });
  t.after(() => store.close());
  return store;
}

test('put, get and remove objects; a missing key is ObjectMissingError', async (t) => {
  const store = openStore(t, await startS3Server(t));
  const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256);
  await store.put('a/b/c', data, 'application/octet-stream');
  assert.deepEqual(await store.get('a/b/c'), data);
  await store.remove('a/b/c');
  await store.remove('a/b/c');
  await assert.rejects(store.get('a/b/c'), ObjectMissingError);
  assert.deepEqual(await store.checkHealth(), { name: 'minio', ok: true, detail: 'ok' });
});

test('object store down: calls fail promptly with StoreUnavailableError and work again after restart', async (t) => {
  const server = await startS3Server(t);
  const store = openStore(t, server);
  await store.put('kept', new Uint8Array([1, 2, 3]), 'text/plain');

  await server.stop();
  const started = Date.now();
  await assert.rejects(store.put('new', new Uint8Array([4]), 'text/plain'), StoreUnavailableError);
  await assert.rejects(store.get('kept'), StoreUnavailableError);
  assert.ok(Date.now() - started < 1000, 'failures are prompt');
  assert.equal((await store.checkHealth()).ok, false);

  await server.start();
  assert.deepEqual(await store.get('kept'), new Uint8Array([1, 2, 3]));
  await store.put('new', new Uint8Array([4]), 'text/plain');
  assert.deepEqual(await store.get('new'), new Uint8Array([4]));
});

test('opening while the server is down succeeds; the bucket is created once it is up', async (t) => {
  const port = await freePort('127.0.0.1');
  const store = openStore(t, { host: '127.0.0.1', port, accessKey: 'S3RVER', secretKey: 'S3RVER' });
  await assert.rejects(store.put('early', new Uint8Array([1]), 'text/plain'), StoreUnavailableError);
  assert.equal((await store.checkHealth()).ok, false);

  await startS3Server(t, { port });
  await store.put('late', new Uint8Array([9]), 'text/plain');
  assert.deepEqual(await store.get('late'), new Uint8Array([9]));
});

test('an aborted get rejects with the abort reason', async (t) => {
  const store = openStore(t, await startS3Server(t));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(store.get('any', controller.signal), { name: 'AbortError' });
});
