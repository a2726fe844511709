import type { Client } from '@connectrpc/connect';
import type { EgressService, Message } from '../../gen/minitoolstream/egress_pb.js';

export interface ConsumeOptions {
  subject: string;
  durableName: string;
  /** Stop once this many messages were received. */
  count: number;
  batchSize?: number;
  /** Called after each fetched batch was acked. */
  onBatch?: (batch: Message[]) => void | Promise<void>;
  timeoutMs?: number;
}

/**
 * The client loop of the original system's connector: Subscribe, and on each
 * notification Fetch a batch and Ack its last sequence, until `count`
 * messages arrived. Returns them in delivery order.
 */
export async function consume(egress: Client<typeof EgressService>, options: ConsumeOptions): Promise<Message[]> {
  const { subject, durableName, count } = options;
  const received: Message[] = [];
  const stop = new AbortController();
  const timer = setTimeout(
    () => stop.abort(new Error(`received ${received.length} of ${count} messages in time`)),
    options.timeoutMs ?? 30_000,
  );
  const fetchBatch = async () => {
    const batch: Message[] = [];
    for await (const message of egress.fetch({ subject, durableName, batchSize: options.batchSize ?? 100 }, { signal: stop.signal })) {
      batch.push(message);
    }
    if (batch.length === 0) return false;
    received.push(...batch);
    await egress.ackMessage({ durableName, subject, sequence: batch[batch.length - 1]!.sequence }, { signal: stop.signal });
    await options.onBatch?.(batch);
    return true;
  };
  try {
    for await (const _notification of egress.subscribe({ subject, durableName }, { signal: stop.signal })) {
      while (received.length < count && (await fetchBatch()));
      if (received.length >= count) break;
    }
  } catch (error) {
    throw stop.signal.aborted ? stop.signal.reason : error;
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  return received;
}
