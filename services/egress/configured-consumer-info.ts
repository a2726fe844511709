import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConsumerInfoSchema } from '../../gen/minitoolstream/egress_pb.js';
import type { Principal } from '../platform/auth/principal.js';
import { subjectVisible } from '../platform/auth/subject-visibility.js';
import type { ConsumerConfig, ConsumerStats } from '../store/consumers.js';
import { consumerConfigToWire } from './consumer-config.js';

export interface ConfiguredInfoDeps {
  /** Consume streams of a configured consumer open in this process. */
  waiting: (durable: string) => number;
  /** The sequence below which a subject holds nothing any more. */
  retainedFloor: (subject: string) => Promise<bigint>;
  principal: Principal | undefined;
  nowMs: number;
}

/**
 * Whether the caller may see a configured consumer: one of its filters or of
 * the subjects it has started on is a subject the caller may fetch (a token
 * pattern `orders.*` covers the filter `orders.>` as text).
 */
export function configuredConsumerVisible(principal: Principal | undefined, config: ConsumerConfig, subjects: string[]): boolean {
  return [...config.filterSubjects, ...subjects].some((subject) => subjectVisible(principal, subject));
}

/**
 * ConsumerInfo of a configured consumer: subject empty, the configuration,
 * the store's counters, and one position per subject the caller may see,
 * ordered by subject; ack_floor, last_sequence and pending are their sums
 * (pending leaves out what retention deleted before it was delivered).
 */
export async function configuredConsumerInfo(
  stats: ConsumerStats,
  { waiting, retainedFloor, principal, nowMs }: ConfiguredInfoDeps,
): Promise<MessageInitShape<typeof ConsumerInfoSchema>> {
  const positions = stats.positions
    .filter((position) => subjectVisible(principal, position.subject))
    .sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
  let ackFloor = 0n;
  let lastSequence = 0n;
  let pending = 0n;
  for (const position of positions) {
    ackFloor += position.ackFloor;
    lastSequence += position.lastSequence;
    const retained = await retainedFloor(position.subject);
    const from = position.delivered > retained ? position.delivered : retained;
    if (position.lastSequence > from) pending += position.lastSequence - from;
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
