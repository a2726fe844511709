import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../services/testing/free-port.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** Compiles the project as `npm run build` does, so the benchmark drives what users run. */
export function build(): void {
  process.stderr.write('> npm run build\n');
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}

/** Runs the compiled `mts` with `--json` and returns its result lines; its progress and errors go to stderr. */
export function mts<T>(args: string[], urls: string[]): T[] {
  process.stderr.write(`> mts ${args.join(' ')}\n`);
  let output: Buffer;
  try {
    output = execFileSync(process.execPath, ['bin/mts.js', ...args, '--json', ...urls], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  } catch {
    throw new Error(`mts ${args.join(' ')} failed (its error is above)`);
  }
  return output
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as T);
}

/** Peak resident set of a process so far, in MiB, from /proc (Linux). */
export function peakRssMiB(pid: number | undefined): string {
  if (pid === undefined) return 'n/a';
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? (Number(match[1]) / 1024).toFixed(0) : 'n/a';
}

async function startEmbedded(dataDir: string): Promise<{ child: ChildProcess; urls: string[] }> {
  const child = spawn(process.execPath, ['dist/services/standalone/main.js'], {
    cwd: root,
    // Per-RPC info logs would make the benchmark measure the log pipe.
    env: {
      ...process.env,
      STORAGE: 'embedded',
      MTS_DATA_DIR: dataDir,
      SERVER_HOST: '127.0.0.1',
      INGRESS_PORT: '0',
      EGRESS_PORT: '0',
      LOG_LEVEL: 'warn',
      // npm start logs text through a worker thread on a terminal; JSON keeps the RSS figure comparable.
      LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const banner = await outputUntil(child, child.stderr!, (text) => /^ {2}ingress +\S+$/m.test(text) && /^ {2}egress +\S+$/m.test(text));
  const ingress = /^ {2}ingress +(\S+)$/m.exec(banner)![1]!;
  const egress = /^ {2}egress +(\S+)$/m.exec(banner)![1]!;
  return { child, urls: ['--ingress', ingress, '--egress', egress] };
}

/**
 * Collects `stream` until `done(text)`; the stream stays open and is passed on
 * to stderr, since a child writing to a closed pipe dies of SIGPIPE/EPIPE
 * before it can stop cleanly.
 */
function outputUntil(child: ChildProcess, stream: NodeJS.ReadableStream, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += String(chunk);
      if (!done(text)) return;
      stream.off('data', onData);
      child.off('exit', onExit);
      stream.pipe(process.stderr);
      resolve(text);
    };
    const onExit = () => reject(new Error(`the server exited before it was ready:\n${text}`));
    stream.on('data', onData);
    child.once('exit', onExit);
  });
}

/** scripts/local-stack.sh on free ports in `dataDir`; resolves once it says it is ready. */
async function startTarantoolStack(dataDir: string): Promise<{ child: ChildProcess; urls: string[]; ingressPid: () => number }> {
  const [tarantool, s3, ingress, egress] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = spawn('bash', ['scripts/local-stack.sh'], {
    cwd: root,
    env: {
      ...process.env,
      LOCAL_STACK_DIR: dataDir,
      TARANTOOL_PORT: String(tarantool),
      S3_PORT: String(s3),
      INGRESS_PORT: String(ingress),
      EGRESS_PORT: String(egress),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await outputUntil(child, child.stdout!, (text) => text.includes('local-stack: ready'));
  const urls = ['--ingress', `http://127.0.0.1:${ingress}`, '--egress', `http://127.0.0.1:${egress}`];
  return { child, urls, ingressPid: () => Number(readFileSync(path.join(dataDir, 'ingress.pid'), 'utf8')) };
}

/** Our services under test: their URL flags, the process whose RSS is read, and how to stop them. */
export interface Stack {
  urls: string[];
  serverPid(): number | undefined;
  stop(): Promise<void>;
}

/**
 * `embedded`: the `npm start` process over a temporary folder; `tarantool`:
 * scripts/local-stack.sh; `external`: services already running at the URLs.
 */
export async function startStack(kind: string, external: { ingress?: string | undefined; egress?: string | undefined }): Promise<Stack> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mts-bench-'));
  let server: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    if (kind === 'embedded') {
      const embedded = await startEmbedded(dataDir);
      server = embedded.child;
      return { urls: embedded.urls, serverPid: () => server?.pid, stop };
    }
    if (kind === 'tarantool') {
      const stack = await startTarantoolStack(dataDir);
      server = stack.child;
      return { urls: stack.urls, serverPid: stack.ingressPid, stop };
    }
    if (kind === 'external' && external.ingress && external.egress) {
      return { urls: ['--ingress', external.ingress, '--egress', external.egress], serverPid: () => undefined, stop };
    }
    throw new Error('--stack is embedded, tarantool, or external with --ingress URL and --egress URL');
  } catch (error) {
    await stop();
    throw error;
  }
}
