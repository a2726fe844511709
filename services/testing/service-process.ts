import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { ServiceName } from '../platform/config.js';
import type { S3Server } from './s3-server.js';
import { freePort, type TarantoolServer } from './tarantool-server.js';

/** A service running as its own node process, the way a pod runs it. */
export interface ServiceProcess {
  url: string;
  pid: number;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | null>;
}

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const startTimeoutMs = 20_000;

/** The environment that points a service at a test Tarantool and s3rver. */
export function remoteStorageEnv(tarantool: TarantoolServer, s3: S3Server): Record<string, string> {
  return {
    STORAGE: 'tarantool',
    TARANTOOL_ADDRESS: tarantool.address,
    TARANTOOL_USER: tarantool.user,
    TARANTOOL_PASSWORD: tarantool.password,
    MINIO_ENDPOINT: s3.endpoint,
    MINIO_ACCESS_KEY_ID: s3.accessKey,
    MINIO_SECRET_ACCESS_KEY: s3.secretKey,
  };
}

/**
 * Spawns `node --import tsx services/<name>/main.ts` on a free loopback port
 * and resolves once /readyz answers 200; `t.after` stops it.
 */
export async function startServiceProcess(t: TestContext, name: ServiceName, env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort('127.0.0.1');
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${name}/main.ts`], {
    cwd: projectRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, SERVER_HOST: '127.0.0.1', SERVER_PORT: String(port) },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const handle: ServiceProcess = {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
  t.after(() => handle.stop());
  await waitForReady(handle.url, child, () => stderr);
  return handle;
}

/** Polls `${url}/readyz` until it answers with `status`. */
export async function waitForReadyz(url: string, status = 200, timeoutMs = startTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = await fetch(`${url}/readyz`).then((response) => response.status, () => 0);
    if (answered === status) return;
    if (Date.now() > deadline) throw new Error(`${url}/readyz answered ${answered}, not ${status}, within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitForReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const died = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${url} exited with ${code} before it was ready:\n${log()}`))),
  );
  died.catch(() => {});
  await Promise.race([waitForReadyz(url), died]);
}
