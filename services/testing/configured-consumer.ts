import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { CallOptions, Client } from '@connectrpc/connect';
import type { ConsumeResponse, EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { defaultAckWaitMs, defaultMaxAckPending, deliveryCountHeader, type ConsumerConfig } from '../store/consumers.js';
import { within } from './within.js';

/** A configuration with the defaults of the issue, and `overrides`. */
export function consumerConfig(durable: string, filterSubjects: string[], overrides: Partial<ConsumerConfig> = {}): ConsumerConfig {
  return {
    durable,
    filterSubjects,
    ackPolicy: 'explicit',
    ackWaitMs: defaultAckWaitMs,
    maxDeliver: 0,
    backoffMs: [],
    maxAckPending: defaultMaxAckPending,
    deliver: { kind: 'all' },
    deadLetterSubject: '',
    ...overrides,
  };
}

/** One message as a worker received it. */
export interface Delivery {
  subject: string;
  sequence: bigint;
  deliveryCount: number;
  headers: Record<string, string>;
  data: Uint8Array;
  /** performance.now() when its frame arrived. */
  receivedAt: number;
}

export interface Worker {
  /** The next frame's messages; a heartbeat gives []. Fails if none comes within `ms` or the stream ends. */
  frame(ms?: number): Promise<Delivery[]>;
  /** Messages of the next frames until `count` arrived (exactly that many: a frame that overshoots fails). */
  deliveries(count: number, ms?: number): Promise<Delivery[]>;
  /** The stream's end: done, or the error it ended with. */
  ended(ms?: number): Promise<IteratorResult<ConsumeResponse>>;
  close(): void;
}

export interface WorkerOptions {
  maxBatch?: number;
  callOptions?: CallOptions;
}

/** A Consume stream on a configured durable, read frame by frame; every read is bounded so a hang fails the test. */
export function openWorker(t: TestContext, egress: Client<typeof EgressService>, durableName: string, options: WorkerOptions = {}): Worker {
  const client = new AbortController();
  t.after(() => client.abort());
  const request = { subject: '', durableName, maxBatch: options.maxBatch ?? 0 };
  const frames = egress.consume(request, { ...options.callOptions, signal: client.signal })[Symbol.asyncIterator]();
  const next = (ms: number) => within(frames.next(), ms, `a Consume frame of ${durableName}`);
  const frame = async (ms = 20_000): Promise<Delivery[]> => {
    const result = await next(ms);
    assert.equal(result.done, false, 'the stream ended');
    const receivedAt = performance.now();
    return result.value.messages.map((message) => ({
      subject: message.subject,
      sequence: message.sequence,
      deliveryCount: Number(message.headers[deliveryCountHeader]),
      headers: message.headers,
      data: message.data,
      receivedAt,
    }));
  };
  return {
    frame,
    async deliveries(count, ms = 20_000) {
      const received: Delivery[] = [];
      while (received.length < count) received.push(...(await frame(ms)));
      assert.equal(received.length, count, 'more messages than expected');
      return received;
    },
    ended: (ms = 20_000) => next(ms),
    close: () => client.abort(),
  };
}

/** `subject:sequence`, to compare deliveries as sets. */
export const messageKey = (message: { subject: string; sequence: bigint }) => `${message.subject}:${message.sequence}`;
