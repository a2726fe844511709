import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Clients } from './clients.js';
import { createLatencies, type LatencySummary } from './latency.js';
import { startProgress } from './progress.js';

export interface PublishBenchOptions {
  ingress: Clients['ingress'];
  subject: string;
  sizeBytes: number;
  concurrency: number;
  durationMs: number;
  progress: boolean;
}

export interface PublishBenchResult {
  kind: 'publish';
  concurrency: number;
  sizeBytes: number;
  messages: number;
  seconds: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  latency: LatencySummary;
}

/**
 * Closed-loop publish load: `concurrency` callers each publish, wait for the
 * answer and publish again until the time is up; every call's latency is
 * kept. The first failure stops every caller and is thrown.
 */
export async function benchPublish(options: PublishBenchOptions): Promise<PublishBenchResult> {
  const { ingress, subject, concurrency, durationMs } = options;
  const data = randomBytes(options.sizeBytes);
  const latencies = createLatencies();
  const failed = new AbortController();
  // Every caller's in-flight call listens on it.
  setMaxListeners(concurrency + 1, failed.signal);
  // One call first, so connection set-up is not counted.
  await ingress.publish({ subject, data });

  const started = performance.now();
  const deadline = started + durationMs;
  const progress = startProgress(() => {
    const seconds = (performance.now() - started) / 1000;
    return `publish c=${concurrency}  ${seconds.toFixed(1)} s  ${latencies.count} msgs  ${Math.round(latencies.count / seconds)} msg/s`;
  }, options.progress);
  const caller = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      await ingress.publish({ subject, data }, { signal: failed.signal });
      latencies.record(performance.now() - sent);
    }
  };
  try {
    await Promise.all(
      Array.from({ length: concurrency }, () =>
        caller().catch((error: unknown) => {
          failed.abort();
          throw error;
        }),
      ),
    );
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    kind: 'publish',
    concurrency,
    sizeBytes: options.sizeBytes,
    messages: latencies.count,
    seconds,
    messagesPerSecond: latencies.count / seconds,
    megabytesPerSecond: (latencies.count * options.sizeBytes) / seconds / 1e6,
    latency: latencies.summary(),
  };
}
