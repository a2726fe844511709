import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConsumeResponseSchema } from '../../gen/minitoolstream/egress_pb.js';
import type { Metrics } from '../platform/metrics.js';
import { deliveryCountHeader, type ConsumerRecord, type LeasedMessage } from '../store/consumers.js';
import { patternMatches } from '../store/subject-pattern.js';
import type { MessageStore } from '../store/store.js';
import { consumeFrameMaxBytes } from './consume.js';
import { subjectStarts } from './consumer-start.js';
import type { SubjectWatch } from './subject-watch.js';
import { toWireMessage } from './wire-message.js';

export interface ConfiguredConsumeDeps {
  store: Pick<MessageStore, 'lease' | 'consumerRecord' | 'listSubjects' | 'startConsumerSubjects' | 'sequenceAtTime'>;
  watch: SubjectWatch;
  metrics: Pick<Metrics, 'fetchedBytes'>;
  heartbeatMs: number;
}

export interface ConfiguredConsumeOptions {
  record: ConsumerRecord;
  /** Messages per frame at most. */
  maxBatch: number;
  /** Whether the caller may receive messages of `subject` (its token's subjects and permissions). */
  mayFetch: (subject: string) => boolean;
}

type Frame = MessageInitShape<typeof ConsumeResponseSchema>;

/**
 * One Consume stream of a configured consumer. Its streams, in this process
 * and others, share the consumer's messages through leases kept in the
 * store: each frame is one `lease` call, so no message is handed to two
 * streams within its lease. Candidate subjects are those the consumer's
 * filters match and the caller may fetch: the known ones at the start (and
 * after a feed resync), then each new one the change feed reports a commit
 * on; a subject's position is created by the deliver policy before the first
 * lease from it. The stream waits for a commit on a candidate subject, a
 * change of the consumer's leases (an ack frees room, a nak makes a message
 * leasable), the next lease expiry, or the heartbeat; at each heartbeat it
 * reads the configuration again, so an update of the filters reaches open
 * streams within one.
 *
 * Memory bound as for the unconfigured stream: a frame is leased only when
 * the transport asks for the next one.
 */
export async function* consumeConfigured(
  deps: ConfiguredConsumeDeps,
  options: ConfiguredConsumeOptions,
  signal: AbortSignal,
): AsyncGenerator<Frame> {
  const { store, metrics, heartbeatMs } = deps;
  const { maxBatch, mayFetch } = options;
  let record = options.record;
  const durable = record.config.durable;
  const isCandidate = (subject: string) =>
    mayFetch(subject) && record.config.filterSubjects.some((filter) => patternMatches(filter, subject));
  // Registered before the subjects are listed, so a subject first committed in between is reported by the feed.
  const watch = deps.watch.watchConsumer(durable, isCandidate);
  // In the order found, which the rotation below walks.
  let candidates = new Set<string>();
  const addCandidates = async (subjects: string[]) => {
    const fresh = subjects.filter((subject) => !candidates.has(subject) && isCandidate(subject));
    if (fresh.length === 0) return;
    await store.startConsumerSubjects(durable, await subjectStarts(store, record, fresh, signal), signal);
    fresh.forEach((subject) => candidates.add(subject));
  };
  const discover = async () => addCandidates((await store.listSubjects(signal)).map((stats) => stats.subject));
  // The configuration again: changed filters drop the subjects they no longer match and look for those they now do.
  const reload = async () => {
    const filters = record.config.filterSubjects.join(' ');
    record = (await store.consumerRecord(durable, signal)) ?? record;
    if (record.config.filterSubjects.join(' ') === filters) return false;
    candidates = new Set([...candidates].filter(isCandidate));
    return true;
  };
  try {
    await discover();
    let sentAt = performance.now();
    let rotation = 0;
    while (!signal.aborted) {
      if (watch.takeResync()) {
        await reload();
        await discover();
      }
      await addCandidates(watch.takeCommitted());
      // Subjects take turns at the head of the list, so a busy one does not starve the others.
      const subjects = [...candidates];
      rotation = subjects.length === 0 ? 0 : (rotation + 1) % subjects.length;
      const order = [...subjects.slice(rotation), ...subjects.slice(0, rotation)];
      const lease = await store.lease(durable, order, { maxMessages: maxBatch, maxBytes: consumeFrameMaxBytes }, Date.now(), signal);
      // The store leases only the subjects given, all of which the caller may fetch.
      const { messages } = lease;
      if (messages.length > 0) {
        messages.forEach((message) => metrics.fetchedBytes.inc(message.data.length));
        sentAt = performance.now();
        yield { messages: messages.map(withDeliveryCount) };
        continue;
      }
      const quietMs = performance.now() - sentAt;
      if (quietMs < heartbeatMs) {
        // An expiry between the lease's clock reading and now is leased at once (at least 1 ms: never a busy loop).
        const untilExpiryMs = lease.nextExpiryMs === undefined ? Infinity : lease.nextExpiryMs - Date.now();
        await watch.changed(signal, Math.max(1, Math.min(heartbeatMs - quietMs, untilExpiryMs)));
        continue;
      }
      sentAt = performance.now();
      yield { messages: [] };
      if (await reload()) await discover();
    }
  } catch (error) {
    // The client left or the server is draining: the stream simply ends.
    if (!signal.aborted) throw error;
  } finally {
    watch.close();
  }
}

function withDeliveryCount(message: LeasedMessage) {
  const wire = toWireMessage(message);
  return { ...wire, headers: { ...wire.headers, [deliveryCountHeader]: String(message.deliveryCount) } };
}
