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
import { benchDrain } from './bench-drain.js';
import { benchE2e, e2eModes } from './bench-e2e.js';
import { benchPublish, publishModes } from './bench-publish.js';
import { clientsFrom, type Command } from './command.js';
import { formatLatencies } from './latency.js';
import { checkStreamingProtocol } from './publish-stream.js';
import { writeStdout } from './output.js';

const options = {
  subject: { type: 'string' },
  size: { type: 'string', default: '1KiB' },
  duration: { type: 'string', default: '10s' },
  concurrency: { type: 'string', default: '1,8,32' },
  rate: { type: 'string', default: '200' },
  mode: { type: 'string' },
  batch: { type: 'string', default: '100' },
  messages: { type: 'string', default: '20000' },
  workers: { type: 'string', default: '1,3' },
  progress: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** `mts bench publish|e2e`: load generators reporting throughput and latency percentiles. */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'load test: publish throughput, publish-to-fetch latency, or Consume throughput over a backlog',
  usage: `Usage: mts bench publish [--mode unary|batch|stream] [--batch 100] [--size 1KiB] [--concurrency 1,8,32] [--duration 10s]
       mts bench e2e [--mode consume|fetch] [--size 1KiB] [--rate 200] [--duration 10s]
       mts bench drain [--messages 20000] [--workers 1,3] [--size 1KiB]

publish: for each concurrency level, that many requests stay in flight for the
duration, each sent when an earlier one is answered; prints messages/s, MB/s
and request latency p50/p90/p99/max. Modes: unary (a Publish per message),
batch (a PublishBatch of --batch messages), stream (one PublishStream, each
request a batch of --batch messages).
e2e: publishes at a fixed rate while a durable consumer receives; prints
latency from publish to received message, and how many arrived. Modes:
consume (a PublishStream request per message; Consume, acks coalesced, as mts
subscribe does) and fetch (unary Publish; Subscribe, Fetch, Ack per batch, as
clients of the original system do).
drain: writes a backlog of --messages to a fresh subject before each run and
times draining it: once by one Consume stream with cumulative acks (a durable
never configured), then by a configured explicit-ack consumer shared by each
number of --workers Consume streams, each frame acked in one AckMessages call.
  --subject SUBJECT      where to publish (default bench.publish, or a fresh bench.e2e.<id>)
  --size SIZE            payload bytes: 1024, 64KiB, 4MiB (default 1KiB)
  --duration TIME        per level: 500ms, 10s, 1m (default 10s)
  --concurrency LIST     publish: callers per level (default 1,8,32)
  --mode MODE            publish: unary (default), batch or stream; e2e: consume (default) or fetch
  --batch N              publish batch and stream: messages per request (default 100)
  --rate N               e2e: messages per second (default 200)
  --messages N           drain: backlog per run (default 20000)
  --workers LIST         drain: Consume streams sharing the explicit consumer (default 1,3)
  --progress             live progress on stderr even when it is not a terminal
  --json                 one JSON object per result line

${globalUsage}`,

  async run(args) {
    const { values, positionals: given } = parseCommand(args, options);
    const [mode] = positionals(given, 'publish|e2e|drain');
    const clients = clientsFrom(values);
    const sizeBytes = sizeOption(values.size, 'size');
    const durationMs = durationOption(values.duration, 'duration');
    const progress = values.progress ?? false;
    const print = (line: string, result: object): Promise<void> => writeStdout(values.json ? `${JSON.stringify(result)}\n` : `${line}\n`);

    if (mode === 'publish') {
      const publishMode = oneOf(values.mode ?? 'unary', publishModes);
      if (publishMode === 'stream') checkStreamingProtocol(values.protocol, '--mode stream');
      const batch = integerOption(values.batch, 'batch', 100);
      for (const concurrency of integerListOption(values.concurrency, 'concurrency')) {
        const subject = values.subject ?? 'bench.publish';
        const result = await benchPublish({
          ingress: clients.ingress,
          subject,
          sizeBytes,
          mode: publishMode,
          batch,
          concurrency,
          durationMs,
          progress,
        });
        const perRequest = publishMode === 'unary' ? '' : ` x${batch}`;
        await print(
          `publish ${publishMode}${perRequest} size ${sizeBytes} B  concurrency ${concurrency}: ${Math.round(result.messagesPerSecond)} msg/s  ` +
            `${result.megabytesPerSecond.toFixed(1)} MB/s  request ${formatLatencies(result.latency)}`,
          result,
        );
      }
    } else if (mode === 'e2e') {
      const e2eMode = oneOf(values.mode ?? 'consume', e2eModes);
      if (e2eMode === 'consume') checkStreamingProtocol(values.protocol, '--mode consume');
      const id = randomBytes(4).toString('hex');
      const rate = integerOption(values.rate, 'rate', 200);
      const subject = values.subject ?? `bench.e2e.${id}`;
      const result = await benchE2e({
        clients,
        subject,
        durable: `bench-${id}`,
        sizeBytes,
        mode: e2eMode,
        rate,
        durationMs,
        drainMs: 10_000,
        progress,
      });
      await print(
        `e2e ${e2eMode} size ${sizeBytes} B  rate ${rate}/s: delivered ${result.delivered}/${result.sent}  ${formatLatencies(result.latency)}` +
          `  (publish ${formatLatencies(result.publishLatency)})`,
        result,
      );
    } else if (mode === 'drain') {
      const messages = integerOption(values.messages, 'messages', 20_000);
      const workers = integerListOption(values.workers, 'workers');
      for (const result of await benchDrain({ clients, sizeBytes, messages, workers, timeoutMs: 300_000, progress })) {
        const how =
          result.mode === 'cumulative'
            ? 'cumulative ack, 1 stream'
            : `explicit ack, ${result.workers} worker${result.workers === 1 ? '' : 's'}`;
        await print(`drain ${result.messages} x ${sizeBytes} B  ${how}: ${Math.round(result.messagesPerSecond)} msg/s`, result);
      }
    } else {
      throw new UsageError(`unknown benchmark "${mode}": use publish, e2e or drain`);
    }
  },
};

function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--mode "${value}" is not one of ${allowed.join(', ')}`);
  return value as T;
}
