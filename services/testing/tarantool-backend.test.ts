import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tarantoolBackend } from './tarantool-backend.js';

test('the Tarantool test backend opens both stores, connected and healthy', async (t) => {
  const { metadata, objects } = await tarantoolBackend.open(t);
  assert.deepEqual(await metadata.checkHealth(), { name: 'tarantool', ok: true, detail: 'ok' });
  assert.deepEqual(await objects.checkHealth(), { name: 'minio', ok: true, detail: 'ok' });
  await objects.put('key', new Uint8Array([1]), 'text/plain');
  await metadata.addPendingUpload('key', Date.now());
  const record = { subject: 's', timestampMs: Date.now(), headers: {}, size: 1, inline: null, objectKey: 'key' };
  assert.deepEqual(await metadata.commit([record]), [{ sequence: 1n }]);
});
