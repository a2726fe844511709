/**
 * `npm run bench`: builds, starts the embedded `npm start` process on
 * ephemeral ports over a temporary data folder, and drives it with the
 * compiled `mts bench`: 1 KiB publish throughput at several concurrencies,
 * publish-to-fetch latency at a fixed rate, and 4 MiB publish MB/s with the
 * server's peak RSS (VmHWM), and Consume throughput over a backlog with
 * cumulative acks next to a configured explicit-ack consumer with 1 and 3
 * workers. `--stack tarantool` runs the same against
 * scripts/local-stack.sh (Tarantool + an S3 server + both services; RSS is the
 * ingress process's); `--stack external --ingress URL --egress URL`
 * benchmarks services that are already running instead (RSS is then not read).
 * `--compare` runs the same workloads against NATS JetStream and Redis Streams
 * in the same run and prints one table with ratios (scripts/bench/compare.ts).
 */
import { parseArgs } from 'node:util';
import { runComparison } from './bench/compare.js';
import { build, mts, peakRssMiB, startStack } from './bench/stack.js';

const { values: flags } = parseArgs({
  options: {
    stack: { type: 'string', default: 'embedded' },
    ingress: { type: 'string' },
    egress: { type: 'string' },
    duration: { type: 'string' },
    rate: { type: 'string', default: '100' },
    compare: { type: 'boolean' },
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
interface DrainResult {
  mode: 'cumulative' | 'explicit';
  workers: number;
  messages: number;
  messagesPerSecond: number;
}
interface E2eResult {
  rate: number;
  sent: number;
  delivered: number;
  latency: Summary;
  publishLatency: Summary;
}

const ms = (value: number): string => value.toFixed(1);

async function main(): Promise<void> {
  build();
  const stack = await startStack(flags.stack, flags);
  try {
    if (flags.compare) await runComparison({ stack: flags.stack, urls: stack.urls, duration: flags.duration });
    else report(stack.urls, stack.serverPid, flags.duration ?? '8s');
  } finally {
    await stack.stop();
  }
}

/** The tables of `npm run bench` alone: our publish throughput, e2e latency and large-message MB/s with the server's RSS. */
function report(urls: string[], serverPid: () => number | undefined, duration: string): void {
  const small = mts<PublishResult>(['bench', 'publish', '--size', '1KiB', '--concurrency', '1,8,32', '--duration', duration], urls);
  const [e2e] = mts<E2eResult>(['bench', 'e2e', '--mode', 'fetch', '--size', '1KiB', '--rate', flags.rate, '--duration', '10s'], urls);
  const rssBefore = peakRssMiB(serverPid());
  const large = mts<PublishResult>(['bench', 'publish', '--size', '4MiB', '--concurrency', '1,4', '--duration', '5s'], urls);
  const rssAfter = peakRssMiB(serverPid());
  const drain = mts<DrainResult>(['bench', 'drain', '--size', '1KiB', '--messages', '20000', '--workers', '1,3'], urls);

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
    '',
    '| Consume a 1 KiB backlog | messages | msg/s |',
    '|---|---|---|',
    ...drain.map(
      (r) =>
        `| ${r.mode === 'cumulative' ? 'cumulative ack, 1 stream' : `explicit ack, ${r.workers} worker${r.workers === 1 ? '' : 's'}`} | ${r.messages} | ${Math.round(r.messagesPerSecond)} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
