import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openFolderObjectStore } from './folder-object-store.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-leftovers-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function temporaryFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((name) => /\.tmp-|\.health-/.test(name)).sort();
}

/** Writes 16 MiB objects into `dir` in a child process until `kill -9` lands mid-write; returns the leftovers. */
async function killMidWrite(dir: string): Promise<string[]> {
  const script = `
    import { openFolderObjectStore } from './services/store/embedded/folder-object-store.ts';
    const store = await openFolderObjectStore({ dir: ${JSON.stringify(dir)} });
    const data = new Uint8Array(16 * 1024 * 1024).fill(7);
    for (let index = 0; index < 200; index++) await store.put('big/' + index, data, 'application/octet-stream');
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 20_000;
  try {
    while ((await temporaryFiles(dir).catch(() => [])).length === 0 && child.exitCode === null) {
      if (Date.now() > deadline) throw new Error('the writer never started a write');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
  return temporaryFiles(dir);
}

test('temporary files of a writer killed mid-write are removed when the folder opens again', async (t) => {
  const dir = join(await tempDir(t), 'objects');
  let leftovers: string[] = [];
  // The kill may land just after a rename; a few bounded tries catch one mid-write.
  for (let attempt = 0; attempt < 5 && leftovers.length === 0; attempt++) leftovers = await killMidWrite(dir);
  assert.ok(leftovers.length > 0, 'kill -9 mid-write left a temporary file');
  const store = await openFolderObjectStore({ dir });
  t.after(() => store.close());
  assert.deepEqual(await temporaryFiles(dir), []);
});

test('temporary files of live processes stay; those of dead ones, this pid and older versions go', async (t) => {
  const dir = await tempDir(t);
  const fanOut = join(dir, 'ab');
  await mkdir(fanOut);
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
  const livePid = process.ppid;
  const names = {
    dead: join(fanOut, `ab12.tmp-${deadPid}-0a1b2c3d4e5f`),
    mine: join(fanOut, `ab34.tmp-${process.pid}-0a1b2c3d4e5f`),
    older: join(fanOut, 'ab56.tmp-0a1b2c3d4e5f'),
    probe: join(dir, `.health-${deadPid}-0a1b2c3d4e5f`),
    live: join(fanOut, `ab78.tmp-${livePid}-0a1b2c3d4e5f`),
    object: join(fanOut, 'ab9a'),
  };
  for (const path of Object.values(names)) await writeFile(path, 'x');
  const store = await openFolderObjectStore({ dir });
  t.after(() => store.close());
  assert.deepEqual((await readdir(dir, { recursive: true })).sort(), [
    'ab',
    join('ab', 'ab78.tmp-' + livePid + '-0a1b2c3d4e5f'),
    join('ab', 'ab9a'),
  ]);
});
