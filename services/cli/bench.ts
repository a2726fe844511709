import { randomBytes } from 'node:crypto';
import {
  durationOption,
  globalUsage,
  integerListOption,
  integerOption,
  parseCommand,
  positionals,
  sizeOption,
  UsageError,
} from './args.js';
import { benchE2e } from './bench-e2e.js';
import { benchPublish } from './bench-publish.js';
import { clientsFrom, type Command } from './command.js';
import { formatLatencies } from './latency.js';
import { writeStdout } from './output.js';

const options = {
  subject: { type: 'string' },
  size: { type: 'string', default: '1KiB' },
  duration: { type: 'string', default: '10s' },
  concurrency: { type: 'string', default: '1,8,32' },
  rate: { type: 'string', default: '200' },
  progress: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** `mts bench publish|e2e`: load generators reporting throughput and latency percentiles. */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'load test: publish throughput, or publish-to-fetch latency',
  usage: `Usage: mts bench publish [--size 1KiB] [--concurrency 1,8,32] [--duration 10s]
       mts bench e2e [--size 1KiB] [--rate 200] [--duration 10s]

publish: for each concurrency level, that many callers publish back to back for
the duration; prints messages/s, MB/s and publish latency p50/p90/p99/max.
e2e: publishes at a fixed rate while a durable subscriber (Subscribe, Fetch,
Ack, as mts subscribe does) receives; prints latency from publish to fetched
message, and how many arrived.
  --subject SUBJECT      where to publish (default bench.publish, or a fresh bench.e2e.<id>)
  --size SIZE            payload bytes: 1024, 64KiB, 4MiB (default 1KiB)
  --duration TIME        per level: 500ms, 10s, 1m (default 10s)
  --concurrency LIST     publish: callers per level (default 1,8,32)
  --rate N               e2e: messages per second (default 200)
  --progress             live progress on stderr even when it is not a terminal
  --json                 one JSON object per result line

${globalUsage}`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, options);
    const [mode] = positionals(given, 'publish|e2e');
    const clients = clientsFrom(values);
    const sizeBytes = sizeOption(values.size, 'size');
    const durationMs = durationOption(values.duration, 'duration');
    const progress = values.progress ?? false;
    const print = (line: string, result: object): Promise<void> => writeStdout(values.json ? `${JSON.stringify(result)}\n` : `${line}\n`);

    if (mode === 'publish') {
      for (const concurrency of integerListOption(values.concurrency, 'concurrency')) {
        const subject = values.subject ?? 'bench.publish';
        const result = await benchPublish({ ingress: clients.ingress, subject, sizeBytes, concurrency, durationMs, progress });
        await print(
          `publish size ${sizeBytes} B  concurrency ${concurrency}: ${Math.round(result.messagesPerSecond)} msg/s  ` +
            `${result.megabytesPerSecond.toFixed(1)} MB/s  ${formatLatencies(result.latency)}`,
          result,
        );
      }
    } else if (mode === 'e2e') {
      const id = randomBytes(4).toString('hex');
      const rate = integerOption(values.rate, 'rate', 200);
      const subject = values.subject ?? `bench.e2e.${id}`;
      const result = await benchE2e({ clients, subject, durable: `bench-${id}`, sizeBytes, rate, durationMs, drainMs: 10_000, progress });
      await print(
        `e2e size ${sizeBytes} B  rate ${rate}/s: delivered ${result.delivered}/${result.sent}  ${formatLatencies(result.latency)}` +
          `  (publish ${formatLatencies(result.publishLatency)})`,
        result,
      );
    } else {
      throw new UsageError(`unknown benchmark "${mode}": use publish or e2e`);
    }
  },
};
