import { randomBytes } from 'node:crypto';
import type { Clients } from './clients.js';
import type { LatencySummary } from './latency.js';
import { closedLoop } from './load-loops.js';
import { openPublishStream, type PublishMessage } from './publish-stream.js';

export const publishModes = ['unary', 'batch', 'stream'] as const;
export type PublishMode = (typeof publishModes)[number];

export interface PublishBenchOptions {
  ingress: Clients['ingress'];
  subject: string;
  sizeBytes: number;
  /** unary: Publish per message; batch: PublishBatch per `batch` messages; stream: one PublishStream, a request per `batch`. */
  mode: PublishMode;
  /** Messages per request in batch and stream mode. */
  batch: number;
  /** Requests in flight. */
  concurrency: number;
  durationMs: number;
  progress: boolean;
}

export interface PublishBenchResult {
  kind: 'publish';
  mode: PublishMode;
  batch: number;
  concurrency: number;
  sizeBytes: number;
  messages: number;
  requests: number;
  seconds: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  /** Per request. */
  latency: LatencySummary;
}

/**
 * Closed-loop publish load: `concurrency` requests in flight, each answered
 * before its caller sends the next, until the time is up. The first failure
 * stops every caller and is thrown.
 */
export async function benchPublish(options: PublishBenchOptions): Promise<PublishBenchResult> {
  const { ingress, subject, mode, concurrency } = options;
  const data = randomBytes(options.sizeBytes);
  const batch = mode === 'unary' ? 1 : options.batch;
  const messages: PublishMessage[] = Array.from({ length: batch }, () => ({ subject, data }));
  const stream = mode === 'stream' ? openPublishStream(ingress) : undefined;
  const call = async (signal: AbortSignal): Promise<number> => {
    if (stream !== undefined) return (await stream.send(messages)).length;
    if (mode === 'batch') return (await ingress.publishBatch({ messages }, { signal })).results.length;
    await ingress.publish(messages[0]!, { signal });
    return 1;
  };
  const label = `publish ${mode}${mode === 'unary' ? '' : ` batch=${batch}`} c=${concurrency}`;
  try {
    const result = await closedLoop({ concurrency, durationMs: options.durationMs, label, progress: options.progress, call });
    return {
      kind: 'publish',
      mode,
      batch,
      concurrency,
      sizeBytes: options.sizeBytes,
      ...result,
      megabytesPerSecond: (result.messagesPerSecond * options.sizeBytes) / 1e6,
    };
  } finally {
    await stream?.close().catch(() => undefined);
  }
}
