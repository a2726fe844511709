import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { AckPolicy, DeliverPolicy, type ConsumerConfigSchema } from '../../gen/minitoolstream/egress_pb.js';
import { durationOption, integerOption, UsageError } from './args.js';

/** The flags of `mts consumer add`, as parseArgs declares them. */
export const consumerFlags = {
  filter: { type: 'string', multiple: true },
  ack: { type: 'string' },
  'ack-wait': { type: 'string' },
  'max-deliver': { type: 'string' },
  backoff: { type: 'string' },
  'max-ack-pending': { type: 'string' },
  deliver: { type: 'string' },
  'dead-letter': { type: 'string' },
} as const;

export interface ConsumerFlagValues {
  filter?: string[] | undefined;
  ack?: string | undefined;
  'ack-wait'?: string | undefined;
  'max-deliver'?: string | undefined;
  backoff?: string | undefined;
  'max-ack-pending'?: string | undefined;
  deliver?: string | undefined;
  'dead-letter'?: string | undefined;
}

export const consumerFlagsUsage = `  --filter SUBJECT       a subject or NATS wildcard it consumes ("orders.*" one
                         token, "orders.>" everything below); repeat for more
  --ack explicit|all     explicit: each message is acked on its own; all
                         (default): an ack settles everything before it too
  --ack-wait DURATION    lease of a delivery before it is redelivered (default 30s)
  --max-deliver N        deliveries of one message at most (default unlimited)
  --backoff LIST         leases of the 1st, 2nd... delivery: 1s,5s,30s (needs
                         --max-deliver greater than its length, or none)
  --max-ack-pending N    leased messages at most over all workers (default 1000)
  --deliver POLICY       all (default), new, last, seq:N or time:ISO-8601
  --dead-letter SUBJECT  where a message goes after --max-deliver attempts or a
                         term (default: dropped)`;

/** A configuration from the flags; what is not given is left to the server's defaults. */
export function consumerConfigFromFlags(durableName: string, values: ConsumerFlagValues): MessageInitShape<typeof ConsumerConfigSchema> {
  const filterSubjects = values.filter ?? [];
  if (filterSubjects.length === 0) throw new UsageError('--filter SUBJECT is required (repeat it for more subjects)');
  const ackWait = values['ack-wait'];
  return {
    durableName,
    filterSubjects,
    ackPolicy: ackPolicy(values.ack),
    ackWaitMs: ackWait === undefined ? 0n : BigInt(Math.round(durationOption(ackWait, 'ack-wait'))),
    maxDeliver: integerOption(values['max-deliver'], 'max-deliver', 0),
    backoffMs: (values.backoff?.split(',') ?? []).map((step) => BigInt(Math.round(durationOption(step, 'backoff')))),
    maxAckPending: integerOption(values['max-ack-pending'], 'max-ack-pending', 0),
    ...deliverPolicy(values.deliver ?? 'all'),
    deadLetterSubject: values['dead-letter'] ?? '',
  };
}

function ackPolicy(value: string | undefined): AckPolicy {
  if (value === undefined || value === 'all') return AckPolicy.ALL;
  if (value === 'explicit') return AckPolicy.EXPLICIT;
  throw new UsageError(`--ack "${value}" is not explicit or all`);
}

function deliverPolicy(value: string): MessageInitShape<typeof ConsumerConfigSchema> {
  if (value === 'all') return { deliverPolicy: DeliverPolicy.ALL };
  if (value === 'new') return { deliverPolicy: DeliverPolicy.NEW };
  if (value === 'last') return { deliverPolicy: DeliverPolicy.LAST };
  if (value.startsWith('seq:')) {
    return { deliverPolicy: DeliverPolicy.BY_START_SEQUENCE, optStartSequence: BigInt(integerOption(value.slice(4), 'deliver seq:', 0)) };
  }
  const timeMs = value.startsWith('time:') ? Date.parse(value.slice(5)) : Number.NaN;
  if (!Number.isNaN(timeMs)) return { deliverPolicy: DeliverPolicy.BY_START_TIME, optStartTime: timestampFromMs(timeMs) };
  throw new UsageError(`--deliver "${value}" is not all, new, last, seq:N or time:ISO-8601 (time:2026-01-31T12:00:00Z)`);
}

/** The deliver policy as `--deliver` spells it. */
export function deliverFlag(policy: DeliverPolicy, startSequence: bigint, startTime: string | undefined): string {
  switch (policy) {
    case DeliverPolicy.NEW:
      return 'new';
    case DeliverPolicy.LAST:
      return 'last';
    case DeliverPolicy.BY_START_SEQUENCE:
      return `seq:${startSequence}`;
    case DeliverPolicy.BY_START_TIME:
      return `time:${startTime}`;
    default:
      return 'all';
  }
}
