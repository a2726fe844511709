import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { createInterface } from 'node:readline';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let built: Promise<unknown> | undefined;

/** Compiles the project as `npm run build` does, once per test process, so tests run what users run. */
export function buildOnce(): Promise<unknown> {
  const run = promisify(execFile);
  // As `npm run build`: the services, then the dashboard egress serves.
  built ??= run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot }).then(() =>
    run(process.execPath, ['--import', 'tsx', 'services/ui/build-main.ts'], { cwd: repoRoot }),
  );
  return built;
}

export interface MtsResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the compiled `bin/mts.js` to completion, optionally feeding stdin and adding to its environment. */
export async function runMts(args: string[], input?: string | Buffer, env: Record<string, string> = {}): Promise<MtsResult> {
  const child = spawnMts(args, env);
  child.stdin!.end(input);
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout: Buffer.concat(stdout), stderr };
}

/** Starts `bin/mts.js` without waiting for it; the caller ends it or awaits 'close'. */
export function spawnMts(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['bin/mts.js', ...args], { cwd: repoRoot, stdio: 'pipe', env: { ...mtsEnv(), ...env } });
}

/** The test's environment without the variables that point mts somewhere. */
function mtsEnv(): NodeJS.ProcessEnv {
  const { MTS_URL: _url, MTS_INGRESS: _ingress, MTS_EGRESS: _egress, MTS_TOKEN: _token, ...inherited } = process.env;
  return inherited;
}

export interface Standalone {
  ingress: string;
  egress: string;
  child: ChildProcess;
  /** Everything written to stderr so far (the banner). */
  stderr(): string;
  /** The JSON log lines written to stdout so far. */
  logs(): Record<string, unknown>[];
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * The compiled `npm start` process (dist/services/standalone/main.js), on
 * its default host (loopback), resolved once both services log that they
 * listen. Ports are 0 (ephemeral) unless `env` names them; killed at test end
 * if still running.
 */
export async function startStandalone(t: TestContext, env: Record<string, string>): Promise<Standalone> {
  const child = spawn(process.execPath, ['dist/services/standalone/main.js'], {
    cwd: repoRoot,
    env: { ...standaloneEnv(), INGRESS_PORT: '0', EGRESS_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const urls: Record<string, string> = {};
  const logs: Record<string, unknown>[] = [];
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`the standalone process exited with ${code}: ${stderr}`);
  });
  const listening = new Promise<void>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; service?: string; url?: string };
      logs.push(entry);
      if (entry.msg?.endsWith(' listening') && entry.service && entry.url) urls[entry.service] = entry.url;
      if (urls.ingress && urls.egress) resolve();
    });
  });
  await Promise.race([listening, exited]);
  exited.catch(() => undefined);
  return {
    ingress: urls.ingress!,
    egress: urls.egress!,
    child,
    stderr: () => stderr,
    logs: () => logs,
    async stop() {
      const done = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await done) as [number | null];
      return code;
    },
  };
}

/** The test's environment without the variables `npm start` gives its own defaults to. */
function standaloneEnv(): NodeJS.ProcessEnv {
  const { STORAGE: _storage, SERVER_HOST: _host, LOG_FORMAT: _format, ...inherited } = process.env;
  return inherited;
}

/**
 * Runs a compiled entry point (`npm start` by default) to its exit, as for a
 * start-up failure; resolves with its code and output.
 */
export async function runMainToExit(
  env: Record<string, string>,
  entry = 'dist/services/standalone/main.js',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [entry], {
    cwd: repoRoot,
    env: { ...standaloneEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
