import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../../testing/free-port.js';
import { startS3Server, type S3Server } from '../../testing/s3-server.js';
import { ObjectMissingError, StoreUnavailableError } from '../store.js';
import { openMinioObjectStore, type MinioObjectStoreOptions } from './object-store.js';

const execFileAsync = promisify(execFile);

function openStore(
  t: TestContext,
  server: Pick<S3Server, 'host' | 'port' | 'accessKey' | 'secretKey'>,
  options: Partial<MinioObjectStoreOptions> = {},
) {
  const store = openMinioObjectStore({
    host: server.host,
    port: server.port,
    useSSL: false,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
    bucket: 'minitoolstream',
    ...options,
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

test('no promise hook stays on between calls: their AsyncLocalStorage is disabled once none is in flight', async (t) => {
  const server = await startS3Server(t);
  // A child process: the test runner keeps an async hook of its own on. Not spawnSync: the S3 server runs here.
  const child = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./promise-hook-probe.ts', import.meta.url))],
    {
      env: { ...process.env, S3_HOST: server.host, S3_PORT: String(server.port) },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.deepEqual(JSON.parse(child.stdout), { before: false, during: true, after: false });
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

/**
 * An S3 endpoint that answers bucket checks but never answers an upload, and
 * reports (with the bytes it got) when the client closes an upload's connection.
 */
async function silentUploadServer(
  t: TestContext,
): Promise<{ host: string; port: number; accessKey: string; secretKey: string; uploadStarted: Promise<void>; uploadCut: Promise<number> }> {
  let reportStart: () => void = () => {};
  const uploadStarted = new Promise<void>((resolve) => (reportStart = resolve));
  let reportCut: (received: number) => void = () => {};
  const uploadCut = new Promise<number>((resolve) => (reportCut = resolve));
  const server = createServer((request, response) => {
    if (request.method !== 'PUT') {
      response.end();
      return;
    }
    reportStart();
    let received = 0;
    request.on('data', (chunk: Buffer) => (received += chunk.length));
    response.on('close', () => reportCut(received));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  return { host: '127.0.0.1', port, accessKey: 'any', secretKey: 'any', uploadStarted, uploadCut };
}

test('an upload that times out, or whose caller gives up, is cut off at the server', async (t) => {
  const size = 32 * 1024 * 1024;
  const timedOut = await silentUploadServer(t);
  // Long enough for the upload to reach the server before it ends; 32 MiB at 1 GiB/s adds 32 ms.
  const store = openStore(t, timedOut, { requestTimeoutMs: 2000, minBytesPerSecond: 1024 ** 3 });
  await assert.rejects(store.put('big', new Uint8Array(size), 'application/octet-stream'), /timed out after 2032 ms/);
  assert.ok((await timedOut.uploadCut) <= size, 'the client closed the upload');

  const abandoned = await silentUploadServer(t);
  const patient = openStore(t, abandoned);
  const controller = new AbortController();
  const upload = patient.put('big', new Uint8Array(size), 'application/octet-stream', controller.signal);
  await abandoned.uploadStarted;
  controller.abort();
  await assert.rejects(upload, { name: 'AbortError' });
  assert.ok((await abandoned.uploadCut) <= size, 'the client closed the upload');
});
