import { durationOption } from '../../services/cli/args.js';
import type { E2eBenchResult } from '../../services/cli/bench-e2e.js';
import type { PublishBenchResult } from '../../services/cli/bench-publish.js';
import type { ClosedLoopResult, OpenLoopResult } from '../../services/cli/load-loops.js';
import type { Broker, BrokerOptions } from './brokers.js';
import { ensurePrograms } from './debian-packages.js';
import { startJetStream } from './jetstream.js';
import { startRedisStreams } from './redis-streams.js';
import { mts } from './stack.js';

export interface ComparisonOptions {
  /** Which of our stacks runs, for the table's heading. */
  stack: string;
  /** `--ingress URL --egress URL` of our running services. */
  urls: string[];
  /** Per workload; by default 3 s for publish and 4 s for end to end. */
  duration?: string | undefined;
}

const sizeBytes = 1024;
/** Messages per PublishStream request in our streamed publish rows. */
const streamBatch = 100;
const inFlightLevels = [1, 64] as const;
/** End-to-end rates: ours over Consume at the first and last, over Subscribe → Fetch → Ack at the middle one. */
const e2eRates = { consume: 1000, fetch: 500, saturation: 5000 } as const;
const drainMs = 5000;

interface Measured {
  publish: ClosedLoopResult[];
  e2e: { consume: OpenLoopResult; fetch: OpenLoopResult; saturation: OpenLoopResult };
}

/**
 * `npm run bench -- --compare`: the same workloads, in one run, against our
 * services (already started), NATS JetStream and Redis Streams (each started
 * on a loopback port for its turn and stopped after), then one table with
 * ratios ours / theirs.
 */
export async function runComparison(options: ComparisonOptions): Promise<void> {
  ensurePrograms([
    { binary: 'nats-server', debianPackage: 'nats-server' },
    { binary: 'redis-server', debianPackage: 'redis-server' },
  ]);
  const publishMs = options.duration === undefined ? 3000 : durationOption(options.duration, 'duration');
  const e2eMs = options.duration === undefined ? 4000 : publishMs;
  const duration = `${publishMs}ms`;

  const levels = inFlightLevels.join(',');
  const sizing = ['--size', `${sizeBytes}`, '--progress'];
  const ours = {
    unary: mts<PublishBenchResult>(
      ['bench', 'publish', '--mode', 'unary', '--concurrency', levels, '--duration', duration, ...sizing],
      options.urls,
    ),
    stream: mts<PublishBenchResult>(
      ['bench', 'publish', '--mode', 'stream', '--batch', `${streamBatch}`, '--concurrency', levels, '--duration', duration, ...sizing],
      options.urls,
    ),
    e2e: {
      consume: oursE2e('consume', e2eRates.consume, e2eMs, sizing, options.urls),
      fetch: oursE2e('fetch', e2eRates.fetch, e2eMs, sizing, options.urls),
      saturation: oursE2e('consume', e2eRates.saturation, e2eMs, sizing, options.urls),
    },
  };
  const brokerOptions: BrokerOptions = { sizeBytes, progress: true, drainMs };
  const jetstream = await measure(await startJetStream(brokerOptions), publishMs, e2eMs);
  const redis = await measure(await startRedisStreams(brokerOptions), publishMs, e2eMs);

  const rows: string[][] = [];
  inFlightLevels.forEach((inFlight, level) => {
    const theirs = [jetstream.publish[level]!, redis.publish[level]!];
    rows.push(throughputRow(`publish, ${inFlight} in flight (ours: unary Publish)`, ours.unary[level]!, theirs));
    rows.push(
      throughputRow(`publish, ${inFlight} in flight (ours: PublishStream, ${streamBatch} per request)`, ours.stream[level]!, theirs),
    );
  });
  const e2eRow = (work: string, key: keyof Measured['e2e']): string[] =>
    latencyRow(work, ours.e2e[key], [jetstream.e2e[key], redis.e2e[key]]);
  rows.push(e2eRow(`publish → consumer at ${e2eRates.consume} msg/s (ours: Consume)`, 'consume'));
  rows.push(e2eRow(`publish → consumer at ${e2eRates.fetch} msg/s (ours: Subscribe → Fetch → Ack)`, 'fetch'));
  rows.push(e2eRow(`publish → consumer at ${e2eRates.saturation} msg/s (ours: Consume)`, 'saturation'));

  const table = [
    `1 KiB messages; our stack: ${options.stack}; publish ${publishMs / 1000} s and end to end ${e2eMs / 1000} s per workload.`,
    'End to end cells: latency p50 / p99 from publish call to consumer, then delivered/sent and delivered msg/s.',
    'ratio = ours / theirs: above 1 is better for msg/s, worse for latency.',
    '',
    '| work | MiniToolStream | JetStream | Redis Streams | ours / JetStream | ours / Redis |',
    '|---|---|---|---|---|---|',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
}

function oursE2e(mode: 'consume' | 'fetch', rate: number, e2eMs: number, sizing: string[], urls: string[]): E2eBenchResult {
  const [result] = mts<E2eBenchResult>(['bench', 'e2e', '--mode', mode, '--rate', `${rate}`, '--duration', `${e2eMs}ms`, ...sizing], urls);
  return result!;
}

async function measure(broker: Broker, publishMs: number, e2eMs: number): Promise<Measured> {
  try {
    const publish: ClosedLoopResult[] = [];
    for (const inFlight of inFlightLevels) {
      process.stderr.write(`> ${broker.name}: publish, ${inFlight} in flight\n`);
      publish.push(await broker.publish(inFlight, publishMs));
    }
    const e2e = async (rate: number): Promise<OpenLoopResult> => {
      process.stderr.write(`> ${broker.name}: publish → consumer at ${rate} msg/s\n`);
      return broker.e2e(rate, e2eMs);
    };
    return {
      publish,
      e2e: { consume: await e2e(e2eRates.consume), fetch: await e2e(e2eRates.fetch), saturation: await e2e(e2eRates.saturation) },
    };
  } finally {
    await broker.stop();
  }
}

const rate = (value: number): string => `${Math.round(value).toLocaleString('en-US')} msg/s`;
const ratio = (ours: number, theirs: number): string => {
  if (!(theirs > 0)) return 'n/a';
  const value = ours / theirs;
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)}×`;
};
const ms = (value: number): string => value.toFixed(value < 10 ? 2 : 1);

function throughputRow(work: string, ours: ClosedLoopResult, theirs: ClosedLoopResult[]): string[] {
  return [
    work,
    rate(ours.messagesPerSecond),
    ...theirs.map((result) => rate(result.messagesPerSecond)),
    ...theirs.map((result) => ratio(ours.messagesPerSecond, result.messagesPerSecond)),
  ];
}

function latencyRow(work: string, ours: OpenLoopResult, theirs: OpenLoopResult[]): string[] {
  const cell = (result: OpenLoopResult): string =>
    `${ms(result.latency.p50Ms)} / ${ms(result.latency.p99Ms)} ms, ${result.delivered}/${result.sent}, ${rate(result.deliveredPerSecond)}`;
  return [
    work,
    cell(ours),
    ...theirs.map(cell),
    ...theirs.map(
      (result) => `p50 ${ratio(ours.latency.p50Ms, result.latency.p50Ms)} / p99 ${ratio(ours.latency.p99Ms, result.latency.p99Ms)}`,
    ),
  ];
}
