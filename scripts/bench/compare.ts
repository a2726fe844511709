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
const drainMs = 5000;

/** One line of the table: measured on our services, then on each broker. */
interface Workload {
  work: string;
  row(brokers: Broker[], running: (system: string) => void): Promise<string[]>;
}

function workload<T>(
  work: string,
  ours: () => T,
  theirs: (broker: Broker) => Promise<T>,
  format: (work: string, ours: T, theirs: T[]) => string[],
): Workload {
  return {
    work,
    async row(brokers, running) {
      running('MiniToolStream');
      const oursResult = ours();
      const theirResults: T[] = [];
      for (const broker of brokers) {
        running(broker.name);
        theirResults.push(await theirs(broker));
      }
      return format(work, oursResult, theirResults);
    },
  };
}

/**
 * `npm run bench -- --compare`: the same workloads, in one run, against our
 * services (already started), NATS JetStream and Redis Streams (started on
 * loopback ports now, stopped at the end), then one table with ratios ours /
 * theirs. Each line runs on the three systems back to back, so a change in
 * the machine's load between lines touches all three alike.
 */
export async function runComparison(options: ComparisonOptions): Promise<void> {
  ensurePrograms([
    { binary: 'nats-server', debianPackage: 'nats-server' },
    { binary: 'redis-server', debianPackage: 'redis-server' },
  ]);
  const publishMs = options.duration === undefined ? 3000 : durationOption(options.duration, 'duration');
  const e2eMs = options.duration === undefined ? 4000 : publishMs;
  const common = ['--size', `${sizeBytes}`, '--progress'];
  const oursPublish = (mode: string, inFlight: number): PublishBenchResult =>
    mts<PublishBenchResult>(
      [
        'bench',
        'publish',
        '--mode',
        mode,
        '--batch',
        `${streamBatch}`,
        '--concurrency',
        `${inFlight}`,
        '--duration',
        `${publishMs}ms`,
        ...common,
      ],
      options.urls,
    )[0]!;
  const oursE2e = (mode: string, rate: number): E2eBenchResult =>
    mts<E2eBenchResult>(['bench', 'e2e', '--mode', mode, '--rate', `${rate}`, '--duration', `${e2eMs}ms`, ...common], options.urls)[0]!;
  const publish = (inFlight: number) => (broker: Broker) => broker.publish(inFlight, publishMs);
  const e2e = (rate: number) => (broker: Broker) => broker.e2e(rate, e2eMs);

  const workloads: Workload[] = [
    ...inFlightLevels.flatMap((inFlight) => [
      workload(
        `publish, ${inFlight} in flight (ours: unary Publish)`,
        () => oursPublish('unary', inFlight),
        publish(inFlight),
        throughputRow,
      ),
      workload(
        `publish, ${inFlight} in flight (ours: PublishStream, ${streamBatch} per request)`,
        () => oursPublish('stream', inFlight),
        publish(inFlight),
        throughputRow,
      ),
    ]),
    workload('publish → consumer at 1,000 msg/s (ours: Consume)', () => oursE2e('consume', 1000), e2e(1000), latencyRow),
    workload('publish → consumer at 500 msg/s (ours: Subscribe → Fetch → Ack)', () => oursE2e('fetch', 500), e2e(500), latencyRow),
    workload('publish → consumer at 5,000 msg/s (ours: Consume)', () => oursE2e('consume', 5000), e2e(5000), latencyRow),
  ];

  const brokerOptions: BrokerOptions = { sizeBytes, progress: true, drainMs };
  const brokers: Broker[] = [];
  const rows: string[][] = [];
  try {
    brokers.push(await startJetStream(brokerOptions));
    brokers.push(await startRedisStreams(brokerOptions));
    for (const [index, { work, row }] of workloads.entries()) {
      rows.push(await row(brokers, (system) => process.stderr.write(`> [${index + 1}/${workloads.length}] ${work}: ${system}\n`)));
    }
  } finally {
    for (const broker of brokers) await broker.stop();
  }

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
