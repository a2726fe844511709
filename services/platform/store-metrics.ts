import { Counter, Gauge, type Registry } from 'prom-client';
import type { MessageStore, PolicyStorage, StorageStats, StoredMessage } from '../store/store.js';
import type { Metrics } from './metrics.js';

export const STORED_MESSAGES = 'minitoolstream_stored_messages';
export const STORED_BYTES = 'minitoolstream_stored_bytes';
export const STORED_OBJECTS = 'minitoolstream_stored_objects';
export const EXPIRED_MESSAGES = 'minitoolstream_expired_messages_total';
export const PURGED_MESSAGES = 'minitoolstream_purged_messages_total';
export const STORE_MEMORY_USED = 'minitoolstream_store_memory_used_percent';
export const STORE_DISK_USED = 'minitoolstream_store_disk_used_percent';
export const POLICY_STORED_MESSAGES = 'minitoolstream_policy_stored_messages';
export const POLICY_STORED_BYTES = 'minitoolstream_policy_stored_bytes';
export const EXPIRY_LAG = 'minitoolstream_expiry_lag_seconds';

/**
 * The store as one service sees it, with every call timed into
 * `minitoolstream_storage_seconds{operation,backend}`. waitForChanges is a long
 * poll by design and is left out so it cannot drown the real latencies.
 */
export function instrumentStore(store: MessageStore, metrics: Metrics, backend: string): MessageStore {
  const timed =
    <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const stop = metrics.storageSeconds.startTimer({ operation, backend });
      try {
        return await call(...args);
      } finally {
        stop();
      }
    };
  return {
    ...store,
    publish: timed('publish', store.publish.bind(store)),
    lastSequence: timed('last_sequence', store.lastSequence.bind(store)),
    lastSequences: timed('last_sequences', store.lastSequences.bind(store)),
    sequenceAtTime: timed('sequence_at_time', store.sequenceAtTime.bind(store)),
    ackFloor: timed('ack_floor', store.ackFloor.bind(store)),
    ack: timed('ack', store.ack.bind(store)),
    readFromAckFloor: timed('read_from_ack_floor', store.readFromAckFloor.bind(store)),
    ackUnconfigured: timed('ack_unconfigured', store.ackUnconfigured.bind(store)),
    claimConsumer: timed('claim_consumer', store.claimConsumer.bind(store)),
    async *read(subject, afterSequence, limits, signal): AsyncGenerator<StoredMessage> {
      const stop = metrics.storageSeconds.startTimer({ operation: 'read', backend });
      try {
        yield* store.read(subject, afterSequence, limits, signal);
      } finally {
        stop();
      }
    },
  };
}

/**
 * Counts the store's metadata commits into `minitoolstream_store_commits_total`
 * and their sizes into the messages- and batches-per-commit histograms: the
 * group commit at work. Returns a function that stops counting.
 */
export function observeCommits(store: MessageStore, metrics: Metrics, backend: string): () => void {
  metrics.storeCommits.inc({ backend }, 0);
  return store.onCommit(({ batches, messages }) => {
    metrics.storeCommits.inc({ backend });
    metrics.storeCommitMessages.observe({ backend }, messages);
    metrics.storeCommitBatches.observe({ backend }, batches);
  });
}

/**
 * The store's totals on every scrape: messages, bytes and objects stored, messages
 * expired and purged (counters the store keeps with its data, so every
 * process reports the same values), and per retention policy its subjects'
 * messages and bytes and its expiry lag: the `policy` label is the policy's
 * pattern, so there are as many series as policies, never one per subject.
 * One store call serves the metrics of a scrape; a store that does not
 * answer leaves the last values.
 */
export function observeStorage(store: Pick<MessageStore, 'storageStats'>, registry: Registry): void {
  let pending: Promise<StorageStats | undefined> | undefined;
  const stats = (): Promise<StorageStats | undefined> =>
    (pending ??= store
      .storageStats(AbortSignal.timeout(5000))
      .catch(() => undefined)
      .finally(() => {
        pending = undefined;
      }));
  const gauge = (name: string, help: string, field: keyof StorageStats) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const value = (await stats())?.[field];
        if (value !== undefined) this.set(Number(value));
      },
    });
  const counter = (name: string, help: string, field: keyof StorageStats) =>
    new Counter({
      name,
      help,
      registers: [registry],
      async collect() {
        const current = await stats();
        if (!current) return;
        this.reset();
        this.inc(Number(current[field]));
      },
    });
  const perPolicy = (name: string, help: string, value: (policy: PolicyStorage) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['policy'],
      registers: [registry],
      async collect() {
        const current = await stats();
        if (!current) return;
        // A deleted policy's series goes with it.
        this.reset();
        for (const policy of current.policies) this.set({ policy: policy.pattern }, value(policy));
      },
    });
  gauge(STORED_MESSAGES, 'Messages the store holds.', 'messages');
  gauge(STORED_BYTES, 'Payload bytes of the messages the store holds.', 'bytes');
  gauge(STORED_OBJECTS, 'Payload objects in the object store that the stored messages name (a shared object counts once).', 'objects');
  counter(EXPIRED_MESSAGES, 'Messages deleted by retention policies.', 'expired');
  counter(PURGED_MESSAGES, 'Messages deleted by purges.', 'purged');
  gauge(STORE_MEMORY_USED, 'Percent of the store memory in use (Tarantool memtx); publishes are refused near full.', 'memoryUsedPercent');
  gauge(
    STORE_DISK_USED,
    "Percent of the embedded store's disk in use; publishes are refused from MTS_DISK_REFUSE_PERCENT.",
    'diskUsedPercent',
  );
  perPolicy(POLICY_STORED_MESSAGES, 'Messages the store holds on the subjects under each retention policy.', (policy) =>
    Number(policy.messages),
  );
  perPolicy(POLICY_STORED_BYTES, 'Payload bytes the store holds on the subjects under each retention policy.', (policy) =>
    Number(policy.bytes),
  );
  perPolicy(
    EXPIRY_LAG,
    'How far the expiry worker is behind, per retention policy: seconds since the oldest message that the ' +
      "policy's max_age or max_messages deletes became due, 0 when none is due. The worker passes every second, " +
      'so a few seconds is normal; staying above a minute means expiry is failing or cannot keep up.',
    (policy) => policy.expiryLagMs / 1000,
  );
}
