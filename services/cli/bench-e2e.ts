import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clients } from './clients.js';
import { follow } from './follow.js';
import { createLatencies, type LatencySummary } from './latency.js';
import { startProgress } from './progress.js';

export interface E2eBenchOptions {
  clients: Clients;
  subject: string;
  durable: string;
  sizeBytes: number;
  /** Messages per second, sent on schedule whether or not earlier ones were answered. */
  rate: number;
  durationMs: number;
  /** How long to wait for the last messages to arrive before counting them lost. */
  drainMs: number;
  progress: boolean;
}

export interface E2eBenchResult {
  kind: 'e2e';
  rate: number;
  sizeBytes: number;
  sent: number;
  delivered: number;
  /** Time from starting the publish to the subscriber holding the fetched message. */
  latency: LatencySummary;
  publishLatency: LatencySummary;
}

const idHeader = 'bench-id';

/**
 * Open-loop end-to-end load: publishes at a fixed rate while a durable
 * subscriber (the same loop as `mts subscribe`: Subscribe, Fetch, Ack) receives
 * them in this process; each message's latency runs from its publish call to
 * its arrival through Fetch.
 */
export async function benchE2e(options: E2eBenchOptions): Promise<E2eBenchResult> {
  const { clients, subject, durable, rate } = options;
  const data = randomBytes(options.sizeBytes);
  // Ids unique to this run, so older messages on a reused subject never match.
  const run = randomBytes(4).toString('hex');
  const pending = new Map<string, number>();
  const latency = createLatencies();
  const publishLatency = createLatencies();
  const stop = new AbortController();
  let sent = 0;

  const following = follow({
    egress: clients.egress,
    subject,
    durable,
    batch: 100,
    signal: stop.signal,
    handle(message) {
      const id = message.headers[idHeader];
      const startedAt = id === undefined ? undefined : pending.get(id);
      if (startedAt !== undefined) {
        latency.record(performance.now() - startedAt);
        pending.delete(id!);
      }
      return 'more';
    },
  });
  // The first failure, of the subscriber or of any publish, ends the run and is thrown.
  let failure: unknown;
  const fail = (error: unknown): void => {
    failure ??= error;
    stop.abort();
  };
  following.catch(fail);
  const pause = (ms: number): Promise<void> => sleep(ms, undefined, { signal: stop.signal }).catch(() => undefined);

  const started = performance.now();
  const progress = startProgress(() => {
    const seconds = (performance.now() - started) / 1000;
    return `e2e ${rate}/s  ${seconds.toFixed(1)} s  sent ${sent}  delivered ${latency.count}`;
  }, options.progress);
  const publishes: Promise<void>[] = [];
  try {
    const total = Math.max(1, Math.round((rate * options.durationMs) / 1000));
    for (let index = 0; index < total && failure === undefined; index++) {
      const wait = started + (index * 1000) / rate - performance.now();
      if (wait > 0) await pause(wait);
      const id = `${run}.${index}`;
      const startedAt = performance.now();
      pending.set(id, startedAt);
      sent++;
      const publish = clients.ingress.publish({ subject, data, headers: { [idHeader]: id } });
      publishes.push(publish.then(() => publishLatency.record(performance.now() - startedAt), fail));
    }
    await Promise.all(publishes);
    const drainUntil = performance.now() + options.drainMs;
    while (pending.size > 0 && failure === undefined && performance.now() < drainUntil) await pause(20);
  } finally {
    progress.stop();
    stop.abort();
    await following.catch(() => undefined);
  }
  if (failure !== undefined) throw failure;
  return {
    kind: 'e2e',
    rate,
    sizeBytes: options.sizeBytes,
    sent,
    delivered: latency.count,
    latency: latency.summary(),
    publishLatency: publishLatency.summary(),
  };
}
