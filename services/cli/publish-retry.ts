import { randomUUID } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import type { IngressService, PublishResponse } from '../../gen/minitoolstream/ingress_pb.js';

/** Attempts of one publish at most, and the pause before the first retry (doubled each time). */
export const publishAttempts = 3;
const firstRetryDelayMs = 250;

export interface PublishOne {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
}

/**
 * How a call fails when the connection breaks under it: `unavailable`, or as
 * connect-node reports a server that died mid-call, `canceled` (the HTTP/2
 * stream closed with CANCEL) or `aborted` (the socket was reset). This call
 * never cancels itself, so neither comes from the caller.
 */
const brokenConnection = new Set([Code.Unavailable, Code.Canceled, Code.Aborted]);

/**
 * Publishes one message, retrying when the connection broke under the call
 * ({@link brokenConnection}): that failure is ambiguous (the server may have committed before the connection
 * broke), so every attempt carries the same `msg-id` (the caller's, or a
 * random one) and a retry of a message already stored is answered as a
 * duplicate of it inside the server's duplicate window instead of being
 * stored twice. `duplicate` in the answer is the server's: with a generated
 * id it can only mean an earlier attempt of this call stored the message.
 */
export async function publishWithRetry(ingress: Client<typeof IngressService>, message: PublishOne): Promise<PublishResponse> {
  const headers = { 'msg-id': randomUUID(), ...message.headers };
  for (let attempt = 1; ; attempt++) {
    try {
      return await ingress.publish({ ...message, headers });
    } catch (error) {
      if (attempt >= publishAttempts || !(error instanceof ConnectError) || !brokenConnection.has(error.code)) throw error;
      await setTimeout(firstRetryDelayMs * 2 ** (attempt - 1));
    }
  }
}
