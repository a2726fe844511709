import { Code, ConnectError } from '@connectrpc/connect';
import type { PublishRequest } from '../../gen/minitoolstream/ingress_pb.js';
import { checkHeaders, checkSubject } from '../platform/validation.js';
import type { PublishMessage } from '../store/store.js';

/** Messages in one PublishBatch or PublishStream request at most. */
export const batchMaxMessages = 10_000;

/**
 * Checks one atomic batch, whose requests are the store messages as they are
 * (same fields). A bad message
 * rejects the whole batch with INVALID_ARGUMENT naming its index
 * (`messages[3]: subject ...`); more than {@link batchMaxMessages} messages or
 * more than `maxBatchBytes` (MAX_MESSAGE_BYTES) of payload in all is
 * RESOURCE_EXHAUSTED naming the limit.
 */
export function checkBatch(messages: PublishRequest[], maxBatchBytes: number): PublishMessage[] {
  if (messages.length === 0) throw new ConnectError('a batch needs at least one message', Code.InvalidArgument);
  if (messages.length > batchMaxMessages) {
    throw new ConnectError(`a batch holds at most ${batchMaxMessages} messages; this one has ${messages.length}`, Code.ResourceExhausted);
  }
  const bytes = payloadBytes(messages);
  if (bytes > maxBatchBytes) {
    throw new ConnectError(
      `a batch carries at most MAX_MESSAGE_BYTES (${maxBatchBytes} bytes) of payload; this one has ${bytes}`,
      Code.ResourceExhausted,
    );
  }
  // A batch usually repeats a few subjects: each is checked once.
  const checkedSubjects = new Set<string>();
  messages.forEach(({ subject, headers }, index) => {
    try {
      if (!checkedSubjects.has(subject)) checkedSubjects.add(checkSubject(subject));
      checkHeaders(headers);
    } catch (error) {
      if (!(error instanceof ConnectError)) throw error;
      throw new ConnectError(`messages[${index}]: ${error.rawMessage}`, error.code);
    }
  });
  return messages;
}

/** Payload bytes of a batch, for the published-bytes counter and read-ahead accounting. */
export function payloadBytes(messages: readonly { data: Uint8Array }[]): number {
  let bytes = 0;
  for (const message of messages) bytes += message.data.byteLength;
  return bytes;
}
