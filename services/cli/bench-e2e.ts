import type { Clients } from './clients.js';
import { followConsume } from './consume-follow.js';
import { follow } from './follow.js';
import { openLoop, type OpenLoopResult } from './load-loops.js';
import { openPublishStream } from './publish-stream.js';

export const e2eModes = ['fetch', 'consume'] as const;
export type E2eMode = (typeof e2eModes)[number];

export interface E2eBenchOptions {
  clients: Clients;
  subject: string;
  durable: string;
  sizeBytes: number;
  /**
   * fetch: unary Publish, and Subscribe → Fetch → Ack as clients of the original system do;
   * consume: one message per PublishStream request, and Consume with coalesced acks.
   */
  mode: E2eMode;
  /** Messages per second, sent on schedule whether or not earlier ones were answered. */
  rate: number;
  durationMs: number;
  /** How long to wait for the last messages to arrive before counting them lost. */
  drainMs: number;
  progress: boolean;
}

export interface E2eBenchResult extends OpenLoopResult {
  kind: 'e2e';
  mode: E2eMode;
}

/**
 * Open-loop end-to-end load: publishes at a fixed rate while a durable
 * consumer in this process receives; each message's latency runs from its
 * publish call to its arrival.
 */
export async function benchE2e(options: E2eBenchOptions): Promise<E2eBenchResult> {
  const { clients, subject, durable, mode } = options;
  const stream = mode === 'consume' ? openPublishStream(clients.ingress) : undefined;
  try {
    const result = await openLoop({
      rate: options.rate,
      durationMs: options.durationMs,
      drainMs: options.drainMs,
      sizeBytes: options.sizeBytes,
      label: `e2e ${mode} ${options.rate}/s`,
      progress: options.progress,
      publish: (data, signal) =>
        stream !== undefined ? stream.send([{ subject, data }]) : clients.ingress.publish({ subject, data }, { signal }),
      consume(arrived, signal) {
        const consumer = {
          egress: clients.egress,
          subject,
          durable,
          signal,
          handle(message: { data: Uint8Array }) {
            arrived(message.data);
            return 'more' as const;
          },
        };
        return mode === 'consume' ? followConsume({ ...consumer, maxBatch: 0 }) : follow({ ...consumer, batch: 100 });
      },
    });
    return { kind: 'e2e', mode, ...result };
  } finally {
    await stream?.close().catch(() => undefined);
  }
}
