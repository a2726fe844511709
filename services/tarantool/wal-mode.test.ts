import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { freePort } from '../testing/free-port.js';
import { initLuaPath } from '../testing/tarantool-server.js';

/** Runs init.lua with `walMode` until it is ready (then stops it) or exits; returns its log. */
async function startWith(t: TestContext, walMode: string | undefined): Promise<string> {
  const workDir = await mkdtemp(join(tmpdir(), 'mts-wal-mode-'));
  t.after(() => rm(workDir, { recursive: true, force: true }));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    TARANTOOL_LISTEN: `127.0.0.1:${await freePort('127.0.0.1')}`,
    TARANTOOL_WORK_DIR: workDir,
    TARANTOOL_MEMTX_MEMORY: String(64 * 1024 * 1024),
    TARANTOOL_PASSWORD: 'secret',
    ...(walMode === undefined ? {} : { TARANTOOL_WAL_MODE: walMode }),
  };
  const child = spawn('tarantool', [initLuaPath], { cwd: workDir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
    if (log.includes('mts: ready')) child.kill('SIGKILL');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
  return log;
}

test('TARANTOOL_WAL_MODE: fsync by default, write on request, anything else stops the start', async (t) => {
  assert.match(await startWith(t, undefined), /mts: ready, listening on \S+, wal_mode fsync/);
  assert.match(await startWith(t, 'write'), /mts: ready, listening on \S+, wal_mode write/);
  const refused = await startWith(t, 'sometimes');
  assert.doesNotMatch(refused, /mts: ready/);
  assert.match(refused, /TARANTOOL_WAL_MODE must be 'fsync' or 'write', not "sometimes"/);
});
