import type { MessageStore, StoredMessage } from '../store/store.js';
import type { Metrics } from './metrics.js';

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
