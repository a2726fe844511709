import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLatencies, type LatencySummary } from './latency.js';
import { startProgress } from './progress.js';

export interface ClosedLoopOptions {
  /** Callers, each with one call in flight. */
  concurrency: number;
  durationMs: number;
  /** Prefix of the progress line. */
  label: string;
  progress: boolean;
  /** One call; resolves with the number of messages it carried. Run once first, uncounted. */
  call(signal: AbortSignal): Promise<number>;
}

export interface ClosedLoopResult {
  messages: number;
  requests: number;
  seconds: number;
  messagesPerSecond: number;
  /** Per call, from sending to its answer. */
  latency: LatencySummary;
}

/**
 * Closed-loop load: `concurrency` callers each call, wait for the answer and
 * call again until the time is up; every call's latency is kept. The first
 * failure stops every caller and is thrown.
 */
export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { concurrency } = options;
  const latencies = createLatencies();
  const failed = new AbortController();
  // Every caller's in-flight call listens on it.
  setMaxListeners(concurrency + 1, failed.signal);
  // One call first, so connection set-up is not counted.
  await options.call(failed.signal);

  let messages = 0;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const progress = startProgress(() => {
    const seconds = (performance.now() - started) / 1000;
    return `${options.label}  ${seconds.toFixed(1)} s  ${messages} msgs  ${Math.round(messages / seconds)} msg/s`;
  }, options.progress);
  const caller = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      const carried = await options.call(failed.signal);
      latencies.record(performance.now() - sent);
      messages += carried;
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
  return { messages, requests: latencies.count, seconds, messagesPerSecond: messages / seconds, latency: latencies.summary() };
}

export interface OpenLoopOptions {
  /** Messages per second, sent on schedule whether or not earlier ones were answered. */
  rate: number;
  durationMs: number;
  /** How long to wait for the last messages to arrive before counting them lost. */
  drainMs: number;
  sizeBytes: number;
  label: string;
  progress: boolean;
  /** Publishes one payload; settles when the broker has accepted it. */
  publish(payload: Uint8Array, signal: AbortSignal): Promise<unknown>;
  /**
   * Receives until `signal` aborts, calling `arrived` with each delivered
   * payload; settles when it has stopped (rejects if it failed first).
   */
  consume(arrived: (payload: Uint8Array) => void, signal: AbortSignal): Promise<void>;
}

export interface OpenLoopResult {
  rate: number;
  sizeBytes: number;
  sent: number;
  delivered: number;
  /** Delivered messages over the time from the first publish to the last arrival: below `rate` when the path is saturated. */
  deliveredPerSecond: number;
  /** From starting the publish to the consumer holding the message. */
  latency: LatencySummary;
  publishLatency: LatencySummary;
}

// A payload starts with this run's tag and the message's index, so messages of
// an earlier run and redeliveries are told apart.
const tagBytes = 4;
const stampBytes = tagBytes + 4;

/**
 * Open-loop end-to-end load: publishes `rate` messages a second while the
 * consumer receives them; each message's latency runs from its publish call
 * to its arrival. A first message, uncounted, waits for the consumer to be
 * ready. The first failure, of the consumer or of any publish, ends the run
 * and is thrown.
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { rate } = options;
  const total = Math.max(1, Math.round((rate * options.durationMs) / 1000));
  const tag = randomBytes(tagBytes);
  const body = randomBytes(Math.max(stampBytes, options.sizeBytes));
  const startedAt = new Float64Array(total + 1);
  const arrivedAlready = new Uint8Array(total + 1);
  const latency = createLatencies();
  const publishLatency = createLatencies();
  const stop = new AbortController();
  setMaxListeners(total + 10, stop.signal);
  let sent = 0;
  let waiting = 0;
  let started = 0;
  let lastArrival = 0;

  const payloadOf = (index: number): Uint8Array => {
    const payload = Buffer.from(body);
    tag.copy(payload, 0);
    payload.writeUInt32BE(index, tagBytes);
    return payload;
  };
  const arrived = (payload: Uint8Array): void => {
    const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (bytes.length < stampBytes || !bytes.subarray(0, tagBytes).equals(tag)) return;
    const index = bytes.readUInt32BE(tagBytes);
    if (index > total || arrivedAlready[index] === 1) return;
    arrivedAlready[index] = 1;
    waiting--;
    if (index === total) return;
    lastArrival = performance.now();
    latency.record(lastArrival - startedAt[index]!);
  };

  let failure: unknown;
  const fail = (error: unknown): void => {
    failure ??= error;
    stop.abort();
  };
  const pause = (ms: number): Promise<void> => sleep(ms, undefined, { signal: stop.signal }).catch(() => undefined);
  const drainUntil = async (deadline: number): Promise<void> => {
    while (waiting > 0 && failure === undefined && performance.now() < deadline) await pause(5);
  };
  const consuming = options.consume(arrived, stop.signal).catch(fail);

  const progress = startProgress(
    () => `${options.label}  sent ${sent}  delivered ${latency.count}  p50 so far ${latency.summary().p50Ms.toFixed(2)} ms`,
    options.progress,
  );
  const publishes: Promise<void>[] = [];
  try {
    waiting = 1;
    await options.publish(payloadOf(total), stop.signal);
    await drainUntil(performance.now() + options.drainMs);
    if (waiting > 0 && failure === undefined) throw new Error(`${options.label}: the first message did not arrive in time`);

    started = performance.now();
    for (let index = 0; index < total && failure === undefined; index++) {
      const wait = started + (index * 1000) / rate - performance.now();
      if (wait > 0) await pause(wait);
      startedAt[index] = performance.now();
      sent++;
      waiting++;
      publishes.push(
        options.publish(payloadOf(index), stop.signal).then(() => publishLatency.record(performance.now() - startedAt[index]!), fail),
      );
    }
    await Promise.all(publishes);
    await drainUntil(performance.now() + options.drainMs);
  } finally {
    progress.stop();
    stop.abort();
    await consuming;
  }
  if (failure !== undefined) throw failure;
  return {
    rate,
    sizeBytes: body.length,
    sent,
    delivered: latency.count,
    deliveredPerSecond: latency.count === 0 ? 0 : latency.count / ((lastArrival - started) / 1000),
    latency: latency.summary(),
    publishLatency: publishLatency.summary(),
  };
}
