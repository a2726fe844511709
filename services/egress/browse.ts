import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { BrowseRequest, BrowseResponseSchema } from '../../gen/minitoolstream/egress_pb.js';
import type { Metrics } from '../platform/metrics.js';
import { checkSubject } from '../platform/validation.js';
import type { MessageStore } from '../store/store.js';
import { toWireMessage } from './wire-message.js';

const defaultLimit = 20;
const maxLimit = 100;
/** Payload bytes of one page at most (a single larger message still goes alone). */
const pageMaxBytes = 16 * 1024 * 1024;

/**
 * One page of a subject for Browse: read like Fetch, but from a position the
 * caller names (a sequence or a time) instead of a durable's floor, so nothing moves. A backward
 * page is the forward read that ends at `sequence`; messages deleted by
 * retention make it shorter, never wrong.
 */
export async function browsePage(
  { store, metrics }: { store: MessageStore; metrics: Metrics },
  request: BrowseRequest,
  signal: AbortSignal,
): Promise<MessageInitShape<typeof BrowseResponseSchema>> {
  const subject = checkSubject(request.subject);
  const limit = request.limit === 0 ? defaultLimit : Math.min(request.limit, maxLimit);
  const start = await startSequence(store, subject, request, signal);
  let after = start > 0n ? start - 1n : 0n;
  let last: bigint | undefined;
  if (request.backward) {
    // From a time the page ends just before the first message at or after it.
    last = request.startTime ? start - 1n : start > 0n ? start : await store.lastSequence(subject, signal);
    after = last > BigInt(limit) ? last - BigInt(limit) : 0n;
  }
  const messages = [];
  for await (const message of store.read(subject, after, { maxMessages: limit, maxBytes: pageMaxBytes }, signal)) {
    if (last !== undefined && message.sequence > last) break;
    metrics.fetchedBytes.inc(message.data.length);
    messages.push(toWireMessage(message));
  }
  return { messages };
}

/** The sequence the request names, directly or by time; 0n for "the end the direction starts from". */
async function startSequence(store: MessageStore, subject: string, request: BrowseRequest, signal: AbortSignal): Promise<bigint> {
  if (request.startTime === undefined) return request.sequence;
  if (request.sequence !== 0n) throw new ConnectError('name either sequence or start_time, not both', Code.InvalidArgument);
  const found = await store.sequenceAtTime(subject, timestampMs(request.startTime), signal);
  // Nothing stored: an empty page either way.
  return found === 0n ? 1n : found;
}
