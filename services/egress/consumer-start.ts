import type { ConsumerRecord, SubjectStart } from '../store/consumers.js';
import type { MessageStore } from '../store/store.js';

/**
 * Where each subject's position starts under the consumer's deliver policy:
 * the sequence after which it delivers. Computed when a stream first leases
 * from a subject; the store keeps the first position written, so streams
 * that race on a new subject agree.
 */
export async function subjectStarts(
  store: Pick<MessageStore, 'sequenceAtTime'>,
  record: ConsumerRecord,
  subjects: string[],
  signal: AbortSignal,
): Promise<SubjectStart[]> {
  return Promise.all(subjects.map(async (subject) => ({ subject, startAfter: await startAfter(store, record, subject, signal) })));
}

async function startAfter(
  store: Pick<MessageStore, 'sequenceAtTime'>,
  { config, createdMs }: ConsumerRecord,
  subject: string,
  signal: AbortSignal,
): Promise<bigint> {
  const { deliver } = config;
  switch (deliver.kind) {
    case 'all':
      return 0n;
    case 'sequence':
      return atLeastZero(deliver.sequence - 1n);
    case 'time':
      return atLeastZero((await store.sequenceAtTime(subject, deliver.timeMs, signal)) - 1n);
    case 'new':
      return atLeastZero((await store.sequenceAtTime(subject, createdMs, signal)) - 1n);
    case 'last':
      // The message before the first one committed after creation is the subject's last at creation.
      return atLeastZero((await store.sequenceAtTime(subject, createdMs, signal)) - 2n);
  }
}

function atLeastZero(sequence: bigint): bigint {
  return sequence > 0n ? sequence : 0n;
}
