import type { Logger } from 'pino';
import type { Metrics } from '../platform/metrics.js';
import type { MessageStore } from '../store/store.js';

export interface SkipReportDeps {
  store: Pick<MessageStore, 'ack'>;
  metrics: Pick<Metrics, 'skippedMessages'>;
  logger: Logger;
}

/**
 * Sequences are gapless, so a read after `after` that starts past `after + 1`
 * means retention or a purge deleted the messages in between before the
 * consumer got them. Reports the gap (a counter and a log line, never a
 * silent jump) and, when `after` is the durable's ack floor, moves the floor
 * up to the gap's end so the consumer goes on from the first retained
 * sequence and the gap is reported once. Returns how many were skipped.
 */
export async function reportSkipped(
  deps: SkipReportDeps,
  where: { subject: string; durable: string; after: bigint; firstRead: bigint; afterIsFloor: boolean },
  signal: AbortSignal,
): Promise<bigint> {
  const skipped = where.firstRead - where.after - 1n;
  if (skipped <= 0n) return 0n;
  deps.metrics.skippedMessages.inc(Number(skipped));
  deps.logger.warn(
    { subject: where.subject, durable: where.durable, skipped: skipped.toString(), firstRetained: where.firstRead.toString() },
    'consumer skipped messages deleted by retention or purge before it read them',
  );
  if (where.afterIsFloor) await deps.store.ack(where.durable, where.subject, where.firstRead - 1n, signal);
  return skipped;
}
