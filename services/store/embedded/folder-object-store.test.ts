import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import test, { type TestContext } from 'node:test';
import { filesBelow } from '../../testing/files-below.js';
import { ObjectMissingError, StoreClosedError, StoreUnavailableError } from '../store.js';
import { objectPath, openFolderObjectStore } from './folder-object-store.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-folder-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const hostileKeys = [
  '../escape',
  '../../etc/passwd',
  '/etc/passwd',
  'a/../../b',
  '..',
  '.',
  '',
  'x/./y',
  'ü/ñ/\u0000/\\..\\x',
  'k'.repeat(600),
];

test('keys never map outside the folder', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'objects');
  const store = await openFolderObjectStore({ dir });
  t.after(() => store.close());
  for (const [index, key] of hostileKeys.entries()) {
    assert.ok(objectPath(dir, key).startsWith(dir + sep), `${JSON.stringify(key)} stays inside`);
    await store.put(key, Uint8Array.of(index), 'application/octet-stream');
  }
  for (const [index, key] of hostileKeys.entries()) {
    assert.deepEqual([...(await store.get(key))], [index], `${JSON.stringify(key)} round-trips`);
  }
  assert.deepEqual(await readdir(root), ['objects'], 'nothing written beside the folder');
  const files = await filesBelow(dir);
  assert.equal(files.length, hostileKeys.length, 'one file per key, no temporary files left');
});

test('get of a missing key is ObjectMissingError and remove is idempotent', async (t) => {
  const store = await openFolderObjectStore({ dir: await tempDir(t) });
  t.after(() => store.close());
  await assert.rejects(store.get('subject/missing'), ObjectMissingError);
  await store.put('subject/key', Uint8Array.of(1, 2, 3), 'text/plain');
  await store.put('subject/key', Uint8Array.of(4), 'text/plain');
  assert.deepEqual([...(await store.get('subject/key'))], [4], 'a second put replaces the object');
  await store.remove('subject/key');
  await store.remove('subject/key');
  await assert.rejects(store.get('subject/key'), ObjectMissingError);
});

test('an unusable folder is StoreUnavailableError and unhealthy', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'objects');
  const store = await openFolderObjectStore({ dir });
  t.after(() => store.close());
  assert.deepEqual(await store.checkHealth(), { name: 'folder', ok: true, detail: 'ok' });
  await rm(dir, { recursive: true });
  await writeFile(dir, 'not a folder');
  await assert.rejects(store.put('subject/key', Uint8Array.of(1), 'text/plain'), StoreUnavailableError);
  await assert.rejects(store.get('subject/key'), StoreUnavailableError);
  const health = await store.checkHealth();
  assert.equal(health.ok, false);
  assert.match(health.detail, /not writable/);
});

test('a closed store refuses calls', async (t) => {
  const store = await openFolderObjectStore({ dir: await tempDir(t) });
  await store.close();
  await assert.rejects(store.put('a/b', Uint8Array.of(1), 'text/plain'), StoreClosedError);
  await assert.rejects(store.get('a/b'), StoreClosedError);
  assert.equal((await store.checkHealth()).ok, false);
});
