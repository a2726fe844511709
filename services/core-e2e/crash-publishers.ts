import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { codeFromString } from '@connectrpc/connect/protocol-connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { IngressService, type PublishRequest, type PublishStreamRequest } from '../../gen/minitoolstream/ingress_pb.js';
import { payload } from '../testing/conformance-harness.js';

/** Names the publish attempt a stored message came from, so its bytes can be checked against what was sent. */
export const attemptHeader = 'crash-attempt';

/** A publish the client saw fail: the phase it happened in, the code and the text. */
export interface RefusedPublish {
  phase: string;
  publisher: string;
  code: Code;
  message: string;
}

/** What the publishers sent and what they were told, across every phase. */
export class PublishLedger {
  /** subject → sequence → payload, for every acknowledged message. */
  readonly acknowledged = new Map<string, Map<bigint, Uint8Array>>();
  /** attempt header → payload, for every publish tried (acknowledged or not). */
  readonly attempts = new Map<string, Uint8Array>();
  readonly refused: RefusedPublish[] = [];
  /** Acknowledgements per publisher, to wait for each one's progress. */
  readonly acksOf = new Map<string, number>();

  /** Sequences acknowledged to two publishes: each a lost message. */
  readonly doubleAcks: string[] = [];
  phase = 'warm-up';

  message(publisher: string, subject: string, length: number): PublishRequest {
    const attempt = `${publisher}-${this.attempts.size}`;
    // The attempt's name leads the bytes, so no two attempts share a payload.
    const data = payload(length, this.attempts.size);
    data.set(new TextEncoder().encode(attempt));
    this.attempts.set(attempt, data);
    return { $typeName: 'minitoolstream.PublishRequest', subject, data, headers: { [attemptHeader]: attempt } };
  }

  acknowledge(publisher: string, message: PublishRequest, sequence: bigint): void {
    const bySequence = this.acknowledged.get(message.subject) ?? new Map<bigint, Uint8Array>();
    this.acknowledged.set(message.subject, bySequence);
    if (bySequence.has(sequence)) this.doubleAcks.push(`${message.subject} ${sequence}`);
    bySequence.set(sequence, message.data);
    this.acksOf.set(publisher, (this.acksOf.get(publisher) ?? 0) + 1);
  }

  refuse(publisher: string, code: Code, message: string): void {
    this.refused.push({ phase: this.phase, publisher, code, message });
  }
}

/** One publisher: its name and subject, where it publishes and for how long. */
export interface Publisher {
  name: string;
  subject: string;
  /** The ingress base URL. */
  url: string;
  ledger: PublishLedger;
  /** Checked before each publish; false ends the publisher. */
  running: () => boolean;
  inlineMaxBytes: number;
}

/** Payload sizes in turn: inline ones and ones above INLINE_MAX_BYTES that go to the object store. */
export function sizeOf(index: number, inlineMaxBytes: number): number {
  return index % 3 === 0 ? inlineMaxBytes * 4 + index : 64 + index;
}

/** Pause after a refused publish, the way a client backs off before retrying. */
const backoffMs = 25;
const callTimeoutMs = 20_000;

function ingressAt(url: string): Client<typeof IngressService> {
  // Each publisher has its own transport: its own HTTP/2 connection, broken on its own.
  return createClient(IngressService, createGrpcTransport({ baseUrl: url }));
}

function backoff(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, backoffMs));
}

/** Publishes one message at a time with unary Publish until `running()` is false. */
export async function unaryPublisher({ name, subject, url, ledger, running, inlineMaxBytes }: Publisher) {
  const ingress = ingressAt(url);
  for (let index = 0; running(); index++) {
    const message = ledger.message(name, subject, sizeOf(index, inlineMaxBytes));
    try {
      const { sequence } = await ingress.publish(message, { timeoutMs: callTimeoutMs });
      ledger.acknowledge(name, message, sequence);
    } catch (error) {
      const refused = ConnectError.from(error);
      ledger.refuse(name, refused.code, refused.rawMessage);
      await backoff();
    }
  }
}

/**
 * Publishes over PublishStream, one batch in flight at a time (an inline
 * message, an object one, or both), reopening the stream when it breaks,
 * until `running()` is false.
 */
export async function streamPublisher({ name, subject, url, ledger, running, inlineMaxBytes }: Publisher) {
  const ingress = ingressAt(url);
  let index = 0;
  while (running()) {
    const sent = new Map<bigint, PublishRequest[]>();
    let answered: (() => void) | undefined;
    let ended = false;
    async function* batches(): AsyncGenerator<PublishStreamRequest> {
      for (let id = 1n; running() && !ended; id++) {
        const count = 1 + (index % 2);
        const messages = Array.from({ length: count }, () => ledger.message(name, subject, sizeOf(index++, inlineMaxBytes)));
        sent.set(id, messages);
        const reply = new Promise<void>((resolve) => (answered = resolve));
        yield { $typeName: 'minitoolstream.PublishStreamRequest', id, messages };
        await reply;
      }
    }
    try {
      for await (const response of ingress.publishStream(batches())) {
        const messages = sent.get(response.id)!;
        if (response.errorCode !== '') ledger.refuse(name, codeFromString(response.errorCode) ?? Code.Unknown, response.errorMessage);
        else response.results.forEach((result, position) => ledger.acknowledge(name, messages[position]!, result.sequence));
        answered?.();
        if (response.errorCode !== '') await backoff();
      }
    } catch (error) {
      const refused = ConnectError.from(error);
      ledger.refuse(name, refused.code, refused.rawMessage);
      await backoff();
    } finally {
      ended = true;
      answered?.();
    }
  }
}
