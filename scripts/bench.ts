/**
 * `npm run bench`: builds, starts the embedded `npm start` process on
 * ephemeral ports over a temporary data folder, and drives it with the
 * compiled `mts bench`: 1 KiB publish throughput at several concurrencies,
 * publish-to-fetch latency at a fixed rate, and 4 MiB publish MB/s with the
 * server's peak RSS (VmHWM). `--stack tarantool` runs the same against
 * scripts/local-stack.sh (Tarantool + an S3 server + both services; RSS is the
 * ingress process's); `--stack external --ingress URL --egress URL`
 * benchmarks services that are already running instead (RSS is then not read).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from '../services/testing/free-port.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: flags } = parseArgs({
  options: {
    stack: { type: 'string', default: 'embedded' },
    ingress: { type: 'string' },
    egress: { type: 'string' },
    duration: { type: 'string', default: '8s' },
    rate: { type: 'string', default: '100' },
  },
});

interface Summary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}
interface PublishResult {
  concurrency: number;
  sizeBytes: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  latency: Summary;
}
interface E2eResult {
  rate: number;
  sent: number;
  delivered: number;
  latency: Summary;
  publishLatency: Summary;
}

function mts<T>(args: string[], urls: string[]): T[] {
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
function peakRssMiB(pid: number | undefined): string {
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

const ms = (value: number): string => value.toFixed(1);

async function main(): Promise<void> {
  process.stderr.write('> npm run build\n');
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });

  let server: ChildProcess | undefined;
  let serverPid: () => number | undefined = () => server?.pid;
  let urls: string[];
  const dataDir = mkdtempSync(path.join(tmpdir(), 'mts-bench-'));
  if (flags.stack === 'embedded') {
    ({ child: server, urls } = await startEmbedded(dataDir));
  } else if (flags.stack === 'tarantool') {
    let ingressPid: () => number;
    ({ child: server, urls, ingressPid } = await startTarantoolStack(dataDir));
    serverPid = ingressPid;
  } else if (flags.stack === 'external' && flags.ingress && flags.egress) {
    urls = ['--ingress', flags.ingress, '--egress', flags.egress];
  } else {
    throw new Error('--stack is embedded, tarantool, or external with --ingress URL and --egress URL');
  }

  try {
    const small = mts<PublishResult>(['bench', 'publish', '--size', '1KiB', '--concurrency', '1,8,32', '--duration', flags.duration], urls);
    const [e2e] = mts<E2eResult>(['bench', 'e2e', '--mode', 'fetch', '--size', '1KiB', '--rate', flags.rate, '--duration', '10s'], urls);
    const rssBefore = peakRssMiB(serverPid());
    const large = mts<PublishResult>(['bench', 'publish', '--size', '4MiB', '--concurrency', '1,4', '--duration', '5s'], urls);
    const rssAfter = peakRssMiB(serverPid());

    const lines = [
      `stack: ${flags.stack}`,
      '',
      '| publish 1 KiB, concurrency | msg/s | p50 ms | p99 ms | max ms |',
      '|---|---|---|---|---|',
      ...small.map(
        (r) =>
          `| ${r.concurrency} | ${Math.round(r.messagesPerSecond)} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p99Ms)} | ${ms(r.latency.maxMs)} |`,
      ),
      '',
      '| e2e 1 KiB, rate/s | delivered | p50 ms | p99 ms | max ms | publish p50 ms | publish p99 ms |',
      '|---|---|---|---|---|---|---|',
      `| ${e2e!.rate} | ${e2e!.delivered}/${e2e!.sent} | ${ms(e2e!.latency.p50Ms)} | ${ms(e2e!.latency.p99Ms)} | ${ms(e2e!.latency.maxMs)} | ${ms(e2e!.publishLatency.p50Ms)} | ${ms(e2e!.publishLatency.p99Ms)} |`,
      '',
      '| publish 4 MiB, concurrency | MB/s | msg/s | p50 ms | p99 ms |',
      '|---|---|---|---|---|',
      ...large.map(
        (r) =>
          `| ${r.concurrency} | ${r.megabytesPerSecond.toFixed(1)} | ${r.messagesPerSecond.toFixed(1)} | ${ms(r.latency.p50Ms)} | ${ms(r.latency.p99Ms)} |`,
      ),
      '',
      `server peak RSS (VmHWM): ${rssBefore} MiB before the 4 MiB runs, ${rssAfter} MiB after`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
