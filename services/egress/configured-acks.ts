import { Code, ConnectError } from '@connectrpc/connect';
import { AckKind, AckOutcome, type AckItem } from '../../gen/minitoolstream/egress_pb.js';
import { checkDurableName, checkSequence, checkSubject } from '../platform/validation.js';
import type { SettleKind, SettleOutcome, Settlement } from '../store/consumers.js';
import type { MessageStore } from '../store/store.js';

/** Settlements one AckMessages call may carry: a frame's worth at most. */
export const ackMessagesMax = 10_000;
/** A nak delay longer than this is refused: a message parked for a day is a term in disguise. */
export const nakDelayMaxMs = 24 * 60 * 60 * 1000;

const kinds: Record<AckKind, SettleKind> = {
  [AckKind.UNSPECIFIED]: 'ack',
  [AckKind.ACK]: 'ack',
  [AckKind.NAK]: 'nak',
  [AckKind.IN_PROGRESS]: 'progress',
  [AckKind.TERM]: 'term',
};

const outcomes: Record<SettleOutcome, AckOutcome> = {
  applied: AckOutcome.APPLIED,
  not_pending: AckOutcome.NOT_PENDING,
  stale: AckOutcome.STALE,
};

/** The store's settlement of one wire item, checked. */
function toSettlement(item: AckItem): Settlement {
  const kind = kinds[item.kind];
  if (kind === undefined) throw new ConnectError(`ack kind ${item.kind} is unknown`, Code.InvalidArgument);
  if (item.delayMs > 0n && kind !== 'nak') throw new ConnectError('delay_ms is for NAK only', Code.InvalidArgument);
  if (item.delayMs > BigInt(nakDelayMaxMs)) throw new ConnectError(`delay_ms must be at most ${nakDelayMaxMs}`, Code.InvalidArgument);
  return {
    subject: checkSubject(item.subject),
    sequence: checkSequence(item.sequence, 'sequence'),
    kind,
    delayMs: Number(item.delayMs),
    deliveryCount: item.deliveryCount === 0 ? undefined : item.deliveryCount,
  };
}

/**
 * AckMessages: settles items of a configured consumer in order, one outcome
 * each (the auth layer checked the caller may ack each item's subject).
 * NOT_FOUND when the durable is not configured.
 */
export async function ackMessages(
  store: Pick<MessageStore, 'settle'>,
  request: { durableName: string; acks: AckItem[] },
  signal: AbortSignal,
): Promise<{ outcomes: AckOutcome[] }> {
  const durable = checkDurableName(request.durableName);
  if (request.acks.length > ackMessagesMax) throw new ConnectError(`more than ${ackMessagesMax} acks in one call`, Code.InvalidArgument);
  const settled = await store.settle(durable, request.acks.map(toSettlement), Date.now(), signal);
  return { outcomes: settled.map((outcome) => outcomes[outcome]) };
}

/**
 * The original AckMessage on a configured consumer: an ack of that message
 * (and, for ack policy `all`, of every one delivered before it on the subject).
 */
export async function ackConfigured(
  store: Pick<MessageStore, 'settle'>,
  durable: string,
  subject: string,
  sequence: bigint,
  signal: AbortSignal,
): Promise<{ success: boolean; errorMessage: string }> {
  const [outcome] = await store.settle(
    durable,
    [{ subject, sequence, kind: 'ack', delayMs: 0, deliveryCount: undefined }],
    Date.now(),
    signal,
  );
  if (outcome === 'applied') return { success: true, errorMessage: '' };
  return { success: false, errorMessage: `sequence ${sequence} of ${subject} is not pending for consumer ${durable}` };
}

/** Fetch reads by ack floor, which a configured consumer does not have. */
export function fetchRefused(durable: string): ConnectError {
  return new ConnectError(`consumer ${durable} is configured: use Consume`, Code.FailedPrecondition);
}
