import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConsumerStats } from '../store/consumers.js';
import type { MessageStore } from '../store/store.js';

export const CONSUMER_LAG_SECONDS = 'minitoolstream_consumer_lag_seconds';
export const CONSUMER_ACK_PENDING = 'minitoolstream_consumer_ack_pending';
export const CONSUMER_REDELIVERED = 'minitoolstream_consumer_redelivered_messages';
export const CONSUMER_DEAD_LETTERED = 'minitoolstream_consumer_dead_lettered_messages_total';

/** The `consumer` label value of every configured consumer the operator did not name. */
export const otherConsumers = '_other';

interface Figures {
  lagSeconds: number;
  ackPending: number;
  redelivered: number;
  deadLettered: number;
}

/**
 * Configured consumers' figures on every scrape, from the counters the store
 * keeps (every egress process reports the same values). The `consumer` label
 * is bounded: the names in `named` (CONSUMER_METRICS_NAMES) get their own
 * series, all others are summed under {@link otherConsumers} (their lag is the
 * largest). One listing and one stats call per consumer serve the four
 * families of a scrape; a store that does not answer leaves the last values.
 */
export function observeConsumers(
  store: Pick<MessageStore, 'listConsumerRecords' | 'consumerStats'>,
  registry: Registry,
  named: readonly string[],
): void {
  const own = new Set(named);
  let pending: Promise<Map<string, Figures> | undefined> | undefined;
  const snapshot = (): Promise<Map<string, Figures> | undefined> =>
    (pending ??= figuresByLabel(store, own)
      .catch(() => undefined)
      .finally(() => {
        pending = undefined;
      }));
  const family = (Metric: typeof Gauge | typeof Counter, name: string, help: string, field: keyof Figures) =>
    new Metric({
      name,
      help,
      labelNames: ['consumer'] as const,
      registers: [registry],
      async collect() {
        const figures = await snapshot();
        if (figures === undefined) return;
        this.reset();
        for (const [consumer, values] of figures) this.inc({ consumer }, values[field]);
      },
    });
  family(Gauge, CONSUMER_LAG_SECONDS, 'Age in seconds of the oldest message a configured consumer has not settled.', 'lagSeconds');
  family(Gauge, CONSUMER_ACK_PENDING, 'Messages delivered to a configured consumer and not yet acked.', 'ackPending');
  family(Gauge, CONSUMER_REDELIVERED, 'Of the messages pending an ack, those delivered more than once.', 'redelivered');
  family(Counter, CONSUMER_DEAD_LETTERED, 'Messages a configured consumer dead-lettered (max_deliver or term).', 'deadLettered');
}

const noFigures: Figures = Object.freeze({ lagSeconds: 0, ackPending: 0, redelivered: 0, deadLettered: 0 });

async function figuresByLabel(store: Pick<MessageStore, 'listConsumerRecords' | 'consumerStats'>, own: ReadonlySet<string>) {
  const signal = AbortSignal.timeout(5000);
  const records = await store.listConsumerRecords(signal);
  const stats = await Promise.all(records.map(({ config }) => store.consumerStats(config.durable, signal)));
  const nowMs = Date.now();
  // The other consumers' series exists from the start, so a rate over its first dead letter is not lost.
  const figures = new Map<string, Figures>([[otherConsumers, noFigures]]);
  for (const entry of stats.filter((item): item is ConsumerStats => item !== undefined)) {
    const durable = entry.record.config.durable;
    const label = own.has(durable) ? durable : otherConsumers;
    const sum = figures.get(label) ?? noFigures;
    const lagSeconds = entry.oldestUnackedMs === undefined ? 0 : Math.max(0, nowMs - entry.oldestUnackedMs) / 1000;
    figures.set(label, {
      lagSeconds: Math.max(sum.lagSeconds, lagSeconds),
      ackPending: sum.ackPending + entry.ackPending,
      redelivered: sum.redelivered + entry.redelivered,
      deadLettered: sum.deadLettered + Number(entry.deadLettered),
    });
  }
  return figures;
}
