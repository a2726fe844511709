import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const luaTests = ['procedures.test.lua', 'consumers.test.lua'];

// The stored procedures are tested in Lua, in-process, one Tarantool per
// file; this runs those TAP files so `npm test` covers them and shows their
// output when one fails.
for (const file of luaTests) {
  test(`stored procedures pass their Lua tests: ${file}`, async (t) => {
    const workDir = await mkdtemp(join(tmpdir(), 'mts-lua-test-'));
    t.after(() => rm(workDir, { recursive: true, force: true }));
    const result = await run('tarantool', [fileURLToPath(new URL(`./test/${file}`, import.meta.url))], {
      cwd: workDir,
      timeout: 30_000,
      env: {
        ...process.env,
        TARANTOOL_LISTEN: '127.0.0.1:0',
        TARANTOOL_WORK_DIR: workDir,
        TARANTOOL_MEMTX_MEMORY: String(64 * 1024 * 1024),
        TARANTOOL_PASSWORD: 'lua-test',
      },
    }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      assert.fail(`Lua tests failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    assert.doesNotMatch(result.stdout, /^\s*not ok/m, result.stdout);
    assert.match(result.stdout, /^1\.\.\d+$/m);
  });
}
