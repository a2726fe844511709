import { randomBytes } from 'node:crypto';
import { AckKind, AckPolicy } from '../../gen/minitoolstream/egress_pb.js';
import type { Clients } from './clients.js';
import { followConsume } from './consume-follow.js';
import { startProgress } from './progress.js';

/** Messages per PublishBatch while the backlog is written. */
const preloadBatch = 1000;

export interface DrainBenchOptions {
  clients: Clients;
  sizeBytes: number;
  /** Backlog each run drains. */
  messages: number;
  /** Worker counts of the explicit-ack runs. */
  workers: number[];
  /** A run that has not drained its backlog by then fails. */
  timeoutMs: number;
  progress: boolean;
}

export interface DrainBenchResult {
  kind: 'drain';
  /** cumulative: Consume on a durable never configured, one ack per frame; explicit: a configured consumer, AckMessages per frame. */
  mode: 'cumulative' | 'explicit';
  workers: number;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
}

/**
 * Consume throughput over a stored backlog: the same number of messages is
 * written to a fresh subject before each run, then drained and the drain is
 * timed, first by one cumulative-ack Consume stream (the figure to compare
 * with), then by a configured explicit-ack consumer shared by each number of
 * `workers` Consume streams, every message acked on its own.
 */
export async function benchDrain(options: DrainBenchOptions): Promise<DrainBenchResult[]> {
  const results = [await run(options, 'cumulative', 1)];
  for (const workers of options.workers) results.push(await run(options, 'explicit', workers));
  return results;
}

async function run(options: DrainBenchOptions, mode: DrainBenchResult['mode'], workers: number): Promise<DrainBenchResult> {
  const { clients, messages } = options;
  const id = randomBytes(4).toString('hex');
  const subject = `bench.drain.${id}`;
  const durable = `bench-drain-${id}`;
  const data = randomBytes(options.sizeBytes);
  for (let written = 0; written < messages; written += preloadBatch) {
    const count = Math.min(preloadBatch, messages - written);
    await clients.ingress.publishBatch({ messages: Array.from({ length: count }, () => ({ subject, data })) });
  }
  const received = new Set<bigint>();
  const done = new AbortController();
  const signal = AbortSignal.any([done.signal, AbortSignal.timeout(options.timeoutMs)]);
  const progress = startProgress(() => `drain ${mode} workers=${workers}: ${received.size}/${messages}`, options.progress);
  const arrived = (sequence: bigint): boolean => {
    received.add(sequence);
    if (received.size >= messages) done.abort();
    return received.size >= messages;
  };
  const started = performance.now();
  try {
    if (mode === 'cumulative') {
      await followConsume({
        egress: clients.egress,
        subject,
        durable,
        maxBatch: 0,
        signal,
        handle: (message) => (arrived(message.sequence) ? 'stop' : 'more'),
      });
    } else {
      await clients.egress.createConsumer({ config: { durableName: durable, filterSubjects: [subject], ackPolicy: AckPolicy.EXPLICIT } });
      await Promise.all(Array.from({ length: workers }, () => explicitWorker(clients.egress, durable, arrived, signal)));
    }
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  if (mode === 'explicit') await clients.egress.deleteConsumer({ durableName: durable });
  if (received.size < messages) throw new Error(`drain ${mode} with ${workers} workers received ${received.size} of ${messages} in time`);
  return { kind: 'drain', mode, workers, messages, seconds, messagesPerSecond: messages / seconds };
}

/** One worker: every frame handled, then acked in one AckMessages call, until the backlog is drained. */
async function explicitWorker(egress: Clients['egress'], durableName: string, arrived: (sequence: bigint) => boolean, signal: AbortSignal) {
  try {
    for await (const frame of egress.consume({ durableName, subject: '' }, { signal })) {
      if (frame.messages.length === 0) continue;
      for (const message of frame.messages) arrived(message.sequence);
      const acks = frame.messages.map(({ subject, sequence }) => ({ subject, sequence, kind: AckKind.ACK }));
      await egress.ackMessages({ durableName, acks }, { signal });
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
