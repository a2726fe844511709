import type { Logger } from 'pino';
import type { MessageStore } from '../store/store.js';

/** One sample of a consumer's pending count. */
export interface LagSample {
  timeMs: number;
  pending: bigint;
}

export interface ConsumerLagHistory {
  durable: string;
  /** Empty for a configured consumer: its pending is summed over its subjects. */
  subject: string;
  /** A caller sees the entry when it may see one of these: the subject, or a configured consumer's filters and started subjects. */
  shownBy: string[];
  /** Oldest first. */
  samples: LagSample[];
}

export interface LagHistoryOptions {
  store: MessageStore;
  logger: Logger;
  /** Sampling stops when this aborts (the service drains). */
  signal: AbortSignal;
  /** Time between samples; 30 s. */
  intervalMs?: number;
  /** Samples kept per consumer; 120, an hour at 30 s. */
  keep?: number;
  /** Consumers followed at most; further ones are not sampled. */
  maxConsumers?: number;
}

/**
 * Each durable consumer's pending count (the subject's last sequence minus
 * its ack floor; for a configured consumer, summed over its subjects),
 * sampled from the store's counters on a timer and kept in
 * memory, bounded in samples and consumers: the lag trend the dashboard
 * draws survives a page reload, not a restart of this process.
 */
export function createLagHistory({ store, logger, signal, intervalMs = 30_000, keep = 120, maxConsumers = 10_000 }: LagHistoryOptions): {
  history(subject: string | undefined): ConsumerLagHistory[];
} {
  const byConsumer = new Map<string, ConsumerLagHistory>();

  const sample = async () => {
    try {
      const figures = await pendingCounts(store, maxConsumers, signal);
      const timeMs = Date.now();
      const seen = new Set<string>();
      for (const { durable, subject, shownBy, pending } of figures) {
        const key = `${durable}\u0000${subject}`;
        seen.add(key);
        let entry = byConsumer.get(key);
        if (entry === undefined) {
          if (byConsumer.size >= maxConsumers) continue;
          entry = { durable, subject, shownBy, samples: [] };
          byConsumer.set(key, entry);
        }
        entry.shownBy = shownBy;
        entry.samples.push({ timeMs, pending });
        if (entry.samples.length > keep) entry.samples.shift();
      }
      for (const key of byConsumer.keys()) if (!seen.has(key)) byConsumer.delete(key);
    } catch (error) {
      if (!signal.aborted) logger.warn({ err: error }, 'consumer lag sample failed; the next one retries');
    }
  };
  const timer = setInterval(() => void sample(), intervalMs);
  timer.unref();
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });

  return {
    history: (subject) =>
      [...byConsumer.values()]
        .filter((entry) => subject === undefined || entry.subject === subject)
        .sort((a, b) => a.durable.localeCompare(b.durable) || a.subject.localeCompare(b.subject)),
  };
}

const unsettled = ({ ackFloor, lastSequence }: { ackFloor: bigint; lastSequence: bigint }) =>
  lastSequence > ackFloor ? lastSequence - ackFloor : 0n;

/**
 * Every consumer's pending count now: the positions of durables acknowledging
 * by sequence, then configured consumers (one stats read each, while fewer than
 * `maxConsumers` were counted).
 */
async function pendingCounts(
  store: MessageStore,
  maxConsumers: number,
  signal: AbortSignal,
): Promise<(Omit<ConsumerLagHistory, 'samples'> & { pending: bigint })[]> {
  const figures = (await store.listConsumers(undefined, signal)).map((position) => ({
    durable: position.durable,
    subject: position.subject,
    shownBy: [position.subject],
    pending: unsettled(position),
  }));
  for (const { config } of await store.listConsumerRecords(signal)) {
    if (figures.length >= maxConsumers) break;
    const stats = await store.consumerStats(config.durable, signal);
    // Deleted since it was listed.
    if (stats === undefined) continue;
    figures.push({
      durable: config.durable,
      subject: '',
      shownBy: [...config.filterSubjects, ...stats.positions.map((position) => position.subject)],
      pending: stats.positions.reduce((sum, position) => sum + unsettled(position), 0n),
    });
  }
  return figures;
}
