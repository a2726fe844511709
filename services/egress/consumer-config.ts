import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  AckPolicy as WireAckPolicy,
  DeliverPolicy as WireDeliverPolicy,
  type ConsumerConfig as WireConsumerConfig,
  type ConsumerConfigSchema,
} from '../../gen/minitoolstream/egress_pb.js';
import { filterMatches, filtersOverlap } from '../platform/subject-filter.js';
import { checkDurableName, checkFilterSubject, checkSubject } from '../platform/validation.js';
import { defaultAckWaitMs, defaultMaxAckPending, type AckPolicy, type ConsumerConfig, type DeliverPolicy } from '../store/consumers.js';

/** Longest lease a delivery may get (ack wait or a backoff step). */
export const maxLeaseMs = 7 * 24 * 3_600_000;
/** Most leases one consumer may hold. */
export const maxAckPendingLimit = 1_000_000;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/**
 * A configuration as the wire states it, checked and with defaults applied;
 * INVALID_ARGUMENT names the field that is wrong.
 */
export function consumerConfigFromWire(wire: WireConsumerConfig | undefined): ConsumerConfig {
  if (wire === undefined) throw invalid('config is required');
  const durable = checkDurableName(wire.durableName);
  const filterSubjects = checkFilters(wire.filterSubjects);
  const maxDeliver = wire.maxDeliver;
  const backoffMs = wire.backoffMs.map((delay, index) => leaseMs(delay, `backoff_ms[${index}]`));
  if (backoffMs.length > 0 && maxDeliver !== 0 && maxDeliver <= backoffMs.length) {
    throw invalid(`max_deliver (${maxDeliver}) must be greater than the ${backoffMs.length} entries of backoff_ms, or 0 for unlimited`);
  }
  if (wire.maxAckPending > maxAckPendingLimit) throw invalid(`max_ack_pending must be at most ${maxAckPendingLimit}`);
  const deadLetterSubject = wire.deadLetterSubject === '' ? '' : checkSubject(wire.deadLetterSubject, 'dead_letter_subject');
  const looping = filterSubjects.find((filter) => deadLetterSubject !== '' && filterMatches(filter, deadLetterSubject));
  if (looping !== undefined) {
    throw invalid(`dead_letter_subject "${deadLetterSubject}" matches filter "${looping}": dead letters would come back to this consumer`);
  }
  return {
    durable,
    filterSubjects,
    ackPolicy: ackPolicyFromWire(wire.ackPolicy),
    ackWaitMs: wire.ackWaitMs === 0n ? defaultAckWaitMs : leaseMs(wire.ackWaitMs, 'ack_wait_ms'),
    maxDeliver,
    backoffMs,
    maxAckPending: wire.maxAckPending === 0 ? defaultMaxAckPending : wire.maxAckPending,
    deliver: deliverFromWire(wire),
    deadLetterSubject,
  };
}

/** The wire form of a stored configuration: defaults spelled out, as the consumer runs. */
export function consumerConfigToWire(config: ConsumerConfig): MessageInitShape<typeof ConsumerConfigSchema> {
  const { deliver } = config;
  return {
    durableName: config.durable,
    filterSubjects: config.filterSubjects,
    ackPolicy: config.ackPolicy === 'explicit' ? WireAckPolicy.EXPLICIT : WireAckPolicy.ALL,
    ackWaitMs: BigInt(config.ackWaitMs),
    maxDeliver: config.maxDeliver,
    backoffMs: config.backoffMs.map(BigInt),
    maxAckPending: config.maxAckPending,
    deliverPolicy: wireDeliverPolicies[deliver.kind],
    ...(deliver.kind === 'sequence' ? { optStartSequence: deliver.sequence } : {}),
    ...(deliver.kind === 'time' ? { optStartTime: timestampFromMs(deliver.timeMs) } : {}),
    deadLetterSubject: config.deadLetterSubject,
  };
}

/** The wire names of ConsumerConfig's fields, for messages about them. */
export const wireFieldNames: Record<keyof ConsumerConfig, string> = {
  durable: 'durable_name',
  filterSubjects: 'filter_subjects',
  ackPolicy: 'ack_policy',
  ackWaitMs: 'ack_wait_ms',
  maxDeliver: 'max_deliver',
  backoffMs: 'backoff_ms',
  maxAckPending: 'max_ack_pending',
  deliver: 'deliver_policy',
  deadLetterSubject: 'dead_letter_subject',
};

const wireDeliverPolicies: Record<DeliverPolicy['kind'], WireDeliverPolicy> = {
  all: WireDeliverPolicy.ALL,
  new: WireDeliverPolicy.NEW,
  last: WireDeliverPolicy.LAST,
  sequence: WireDeliverPolicy.BY_START_SEQUENCE,
  time: WireDeliverPolicy.BY_START_TIME,
};

function checkFilters(filters: string[]): string[] {
  if (filters.length === 0) throw invalid('filter_subjects needs at least one subject or wildcard');
  filters.forEach((filter, index) => checkFilterSubject(filter, `filter_subjects[${index}]`));
  filters.forEach((filter, index) => {
    const other = filters.slice(index + 1).find((later) => filtersOverlap(filter, later));
    if (other !== undefined) throw invalid(`filter_subjects "${filter}" and "${other}" overlap: a subject may match only one filter`);
  });
  return filters;
}

function leaseMs(value: bigint, field: string): number {
  if (value === 0n) throw invalid(`${field} must be at least 1 ms`);
  if (value > BigInt(maxLeaseMs)) throw invalid(`${field} must be at most ${maxLeaseMs} ms (7 days)`);
  return Number(value);
}

function ackPolicyFromWire(policy: WireAckPolicy): AckPolicy {
  if (policy === WireAckPolicy.UNSPECIFIED || policy === WireAckPolicy.ALL) return 'all';
  if (policy === WireAckPolicy.EXPLICIT) return 'explicit';
  throw invalid(`ack_policy ${policy} is not ACK_POLICY_ALL or ACK_POLICY_EXPLICIT`);
}

function deliverFromWire(wire: WireConsumerConfig): DeliverPolicy {
  const policy = wire.deliverPolicy;
  if (policy !== WireDeliverPolicy.BY_START_SEQUENCE && wire.optStartSequence !== 0n) {
    throw invalid('opt_start_sequence is only for DELIVER_POLICY_BY_START_SEQUENCE');
  }
  if (policy !== WireDeliverPolicy.BY_START_TIME && wire.optStartTime !== undefined) {
    throw invalid('opt_start_time is only for DELIVER_POLICY_BY_START_TIME');
  }
  switch (policy) {
    case WireDeliverPolicy.UNSPECIFIED:
    case WireDeliverPolicy.ALL:
      return { kind: 'all' };
    case WireDeliverPolicy.NEW:
      return { kind: 'new' };
    case WireDeliverPolicy.LAST:
      return { kind: 'last' };
    case WireDeliverPolicy.BY_START_SEQUENCE:
      if (wire.optStartSequence === 0n) throw invalid('DELIVER_POLICY_BY_START_SEQUENCE needs opt_start_sequence of at least 1');
      return { kind: 'sequence', sequence: wire.optStartSequence };
    case WireDeliverPolicy.BY_START_TIME:
      if (wire.optStartTime === undefined) throw invalid('DELIVER_POLICY_BY_START_TIME needs opt_start_time');
      return { kind: 'time', timeMs: timestampMs(wire.optStartTime) };
    default:
      throw invalid(`deliver_policy ${policy} is not a known DeliverPolicy`);
  }
}
