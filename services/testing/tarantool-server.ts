import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { freePort } from './free-port.js';

/** A Tarantool process running services/tarantool/init.lua for one test. */
export interface TarantoolServer {
  host: string;
  port: number;
  /** `host:port`, the form of TARANTOOL_ADDRESS. */
  address: string;
  user: string;
  password: string;
  /** Folder with its snapshots and WAL; kept across kill/start. */
  workDir: string;
  /** SIGKILLs the process (a crash: no clean shutdown) and waits for its exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder; resolves once it accepts calls. */
  start(): Promise<void>;
}

export interface StartTarantoolOptions {
  /** Extra environment for init.lua. */
  env?: Record<string, string>;
  /** Port to listen on; default: a free one. */
  port?: number;
  /** Password of the connector user; default: a random one. */
  password?: string;
}

export const initLuaPath = fileURLToPath(new URL('../tarantool/init.lua', import.meta.url));
const startTimeoutMs = 15_000;

/**
 * Starts Tarantool on a free loopback port with a temp work dir and a random
 * password; `t.after` kills it and removes the folder.
 */
export async function startTarantool(t: TestContext, options: StartTarantoolOptions = {}): Promise<TarantoolServer> {
  const server = await launchTarantool(options);
  t.after(() => server.remove());
  return server;
}

/** {@link startTarantool} for a script: the caller calls `remove()` (kill, then delete the folder). */
export async function launchTarantool(options: StartTarantoolOptions = {}): Promise<TarantoolServer & { remove(): Promise<void> }> {
  const workDir = await mkdtemp(join(tmpdir(), 'mts-tarantool-'));
  const host = '127.0.0.1';
  const port = options.port ?? (await freePort(host));
  const user = 'minitoolstream_connector';
  const password = options.password ?? randomBytes(12).toString('hex');
  let child: ChildProcess | undefined;

  const server = {
    host,
    port,
    address: `${host}:${port}`,
    user,
    password,
    workDir,
    async kill() {
      const running = child;
      child = undefined;
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    async start() {
      if (child !== undefined) throw new Error('tarantool is already running');
      child = spawn('tarantool', [initLuaPath], {
        cwd: workDir,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          ...process.env,
          TARANTOOL_LISTEN: `${host}:${port}`,
          TARANTOOL_WORK_DIR: workDir,
          TARANTOOL_MEMTX_MEMORY: String(64 * 1024 * 1024),
          TARANTOOL_USER: user,
          TARANTOOL_PASSWORD: password,
          // Tests crash processes, never the machine: fsync would only slow them (wal-mode.test.ts covers it).
          TARANTOOL_WAL_MODE: 'write',
          ...options.env,
        },
      });
      await ready(child);
    },
    async remove() {
      await server.kill();
      await rm(workDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** Resolves when init.lua logs that it is ready; rejects if it exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`tarantool did not start in time:\n${log}`)), startTimeoutMs);
    const onExit = (code: number | null) => fail(new Error(`tarantool exited with ${code}:\n${log}`));
    function fail(error: Error) {
      settled = true;
      clearTimeout(timer);
      child.off('exit', onExit);
      reject(error);
    }
    child.once('exit', onExit);
    child.stderr!.setEncoding('utf8');
    // Stays attached after start so a chatty server never blocks on a full pipe.
    child.stderr!.on('data', (chunk: string) => {
      if (settled) return;
      log += chunk;
      if (log.includes('mts: ready')) {
        settled = true;
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve();
      }
    });
  });
}
