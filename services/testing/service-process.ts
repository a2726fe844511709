import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { ServiceName } from '../platform/config.js';
import type { S3Server } from './s3-server.js';
import type { TarantoolServer } from './tarantool-server.js';

/** A service's main.ts running as its own process, the way a container runs it. */
export interface ServiceProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:port` it listens on. */
  url: string;
  /** Everything written to stdout so far (the log). */
  stdout(): string;
  /** Resolves once stdout contains `text`; rejects after `timeoutMs`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or signal name) once the process ends. */
  exited: Promise<number | string>;
}

export interface ExitedProcess {
  code: number | string;
  stdout: string;
  stderr: string;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const startTimeoutMs = 30_000;

/** The process environment: only what node needs plus `env`, so the caller's shell leaks nothing in. */
function childEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', SERVER_HOST: '127.0.0.1', SERVER_PORT: '0' };
  if (process.env.HOME !== undefined) base.HOME = process.env.HOME;
  return { ...base, ...env };
}

function launch(service: ServiceName, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', `services/${service}/main.ts`], {
    cwd: root,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function exitOf(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
}

/**
 * Spawns `services/<service>/main.ts` on an ephemeral loopback port and waits
 * until it listens; `t.after` SIGKILLs it if the test left it running.
 */
export async function spawnService(t: TestContext, service: ServiceName, env: Record<string, string>): Promise<ServiceProcess> {
  const child = launch(service, env);
  const exited = exitOf(child);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  const waitForOutput = (text: string, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!stdout.includes(text)) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no "${text}" from ${service} in ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
      };
      child.stdout!.on('data', check);
      check();
    });

  // Fastify's own line, in both log formats: "Server listening at http://127.0.0.1:PORT".
  await Promise.race([
    waitForOutput('Server listening at http://', startTimeoutMs),
    exited.then((code) => Promise.reject(new Error(`${service} exited with ${code}:\n${stdout}\n${stderr}`))),
  ]);
  const url = /Server listening at (http:\/\/[\d.]+:\d+)/.exec(stdout)![1]!;
  return { child, url, stdout: () => stdout, waitForOutput, exited };
}

/** Runs `services/<service>/main.ts` expecting it to stop by itself (a bad configuration). */
export async function runServiceToExit(service: ServiceName, env: Record<string, string>): Promise<ExitedProcess> {
  const child = launch(service, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), startTimeoutMs);
  const code = await exitOf(child);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

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
    // s3rver has no multipart listing, which the minio client needs for multipart uploads:
    // one part as large as the largest message keeps every upload a single PUT.
    MINIO_PART_SIZE_BYTES: String(64 * 1024 * 1024),
  };
}

/** A spawned service that is ready to serve. */
export interface ReadyServiceProcess extends ServiceProcess {
  pid: number;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | string>;
}

/** {@link spawnService}, then waits until /readyz answers 200 (its dependencies answer). */
export async function startServiceProcess(t: TestContext, service: ServiceName, env: Record<string, string>): Promise<ReadyServiceProcess> {
  const spawned = await spawnService(t, service, env);
  const died = spawned.exited.then((code) => Promise.reject(new Error(`${service} exited with ${code} before it was ready`)));
  died.catch(() => {});
  await Promise.race([waitForReadyz(spawned.url), died]);
  return {
    ...spawned,
    pid: spawned.child.pid!,
    async stop() {
      if (spawned.child.exitCode === null && spawned.child.signalCode === null) spawned.child.kill('SIGTERM');
      return spawned.exited;
    },
  };
}

/** Polls `${url}/readyz` until it answers with `status`. */
export async function waitForReadyz(url: string, status = 200, timeoutMs = startTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answered = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(Math.max(deadline - Date.now(), 1000)) }).then(
      (response) => response.status,
      () => 0,
    );
    if (answered === status) return;
    if (Date.now() > deadline) throw new Error(`${url}/readyz answered ${answered}, not ${status}, within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
