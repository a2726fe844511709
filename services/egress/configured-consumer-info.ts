import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConsumerInfoSchema } from '../../gen/minitoolstream/egress_pb.js';
import type { Principal } from '../platform/auth/principal.js';
import { subjectVisible } from '../platform/auth/subject-visibility.js';
import { filterMatches } from '../platform/subject-filter.js';
import type { ConsumerStats } from '../store/consumers.js';
import type { MessageStore, SubjectStats } from '../store/store.js';
import { consumerConfigToWire } from './consumer-config.js';
import { subjectStarts } from './consumer-start.js';
import { retainedFloors } from './retained-floors.js';

export interface ConfiguredInfoDeps {
  store: Pick<MessageStore, 'sequenceAtTime'>;
  /** Every subject the store knows, listed once per request. */
  subjects: () => Promise<SubjectStats[]>;
  /** Consume streams of a configured consumer open in this process. */
  waiting: (durable: string) => number;
  /** The sequence below which a subject holds nothing any more. */
  retainedFloor: (subject: string) => Promise<bigint>;
  principal: Principal | undefined;
  nowMs: number;
  signal: AbortSignal;
}

/** What {@link configuredConsumerInfo} needs for one request: the subject listing and retained floors looked up once. */
export function configuredInfoDeps(
  store: Pick<MessageStore, 'sequenceAtTime' | 'listSubjects' | 'subjectStats'>,
  waiting: (durable: string) => number,
  principal: Principal | undefined,
  signal: AbortSignal,
): ConfiguredInfoDeps {
  let listed: Promise<SubjectStats[]> | undefined;
  const subjects = () => (listed ??= store.listSubjects(signal));
  return { store, subjects, waiting, retainedFloor: retainedFloors(store, signal), principal, nowMs: Date.now(), signal };
}

/**
 * Whether the caller may see a configured consumer: one of its filters or of
 * the subjects it has started on is a subject the caller may fetch (a token
 * pattern `orders.*` covers the filter `orders.>` as text).
 */
export function configuredConsumerVisible(principal: Principal | undefined, { record, positions }: ConsumerStats): boolean {
  return [...record.config.filterSubjects, ...positions.map((position) => position.subject)].some((subject) =>
    subjectVisible(principal, subject),
  );
}

/**
 * ConsumerInfo of a configured consumer: subject empty, the configuration,
 * the store's counters, and one position per subject the caller may see,
 * ordered by subject. ack_floor, last_sequence and pending (not yet
 * delivered, leaving out what retention deleted first) are sums over every
 * subject its filters match that the caller may see: a subject no stream
 * has started on counts from where the deliver policy starts it.
 */
export async function configuredConsumerInfo(
  stats: ConsumerStats,
  { store, subjects, waiting, retainedFloor, principal, nowMs, signal }: ConfiguredInfoDeps,
): Promise<MessageInitShape<typeof ConsumerInfoSchema>> {
  const positions = stats.positions
    .filter((position) => subjectVisible(principal, position.subject))
    .sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
  const started = new Set(stats.positions.map((position) => position.subject));
  const unstarted = (await subjects()).filter(
    ({ subject }) =>
      !started.has(subject) &&
      subjectVisible(principal, subject) &&
      stats.record.config.filterSubjects.some((filter) => filterMatches(filter, subject)),
  );
  const starts = await subjectStarts(
    store,
    stats.record,
    unstarted.map(({ subject }) => subject),
    signal,
  );
  // An unstarted subject counts as positioned where its deliver policy starts.
  const figures = [
    ...positions,
    ...unstarted.map(({ subject, lastSequence }, index) => {
      const startAfter = starts[index]!.startAfter;
      return { subject, ackFloor: startAfter, delivered: startAfter, lastSequence };
    }),
  ];
  let ackFloor = 0n;
  let lastSequence = 0n;
  let pending = 0n;
  for (const figure of figures) {
    ackFloor += figure.ackFloor;
    lastSequence += figure.lastSequence;
    const retained = await retainedFloor(figure.subject);
    const from = figure.delivered > retained ? figure.delivered : retained;
    if (figure.lastSequence > from) pending += figure.lastSequence - from;
  }
  const { durable } = stats.record.config;
  return {
    durableName: durable,
    subject: '',
    ackFloor,
    lastSequence,
    pending,
    config: consumerConfigToWire(stats.record.config),
    delivered: stats.delivered,
    ackPending: BigInt(stats.ackPending),
    redelivered: BigInt(stats.redelivered),
    waiting: waiting(durable),
    ...(stats.oldestUnackedMs === undefined ? {} : { lagMs: BigInt(Math.max(0, nowMs - stats.oldestUnackedMs)) }),
    deadLettered: stats.deadLettered,
    positions: positions.map(({ subject, ackFloor, delivered, lastSequence }) => ({ subject, ackFloor, delivered, lastSequence })),
  };
}
