import { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { PayloadBudget } from '../store/payload-budget.js';

/** The Node request under a call, so the gate can size a body Connect has not read yet. */
export const nodeRequestKey = createContextKey<IncomingMessage | Http2ServerRequest | undefined>(undefined, {
  description: 'node request',
});

/** Admits a unary call by its first envelope header (flags, length); set by the gate, called by the body reader. */
export type EnvelopeAdmission = (flags: number, length: number) => Promise<void>;

/** Set by the gate on a unary call with an enveloped body (gRPC, gRPC-Web): see {@link createAdmissionGate}. */
export const envelopeAdmissionKey = createContextKey<EnvelopeAdmission | undefined>(undefined, {
  description: 'envelope admission',
});

// gRPC and gRPC-Web prefix each message with a flag byte and a big-endian length.
const envelopeHeaderBytes = 5;
const compressedFlag = 0b1;

/**
 * A request gate that admits a unary call only once its request body fits in
 * the process's {@link PayloadBudget}, and holds the reservation until the
 * call has ended (body read, stored, answered). A call that waits or is
 * refused holds no more than the socket's flow-control window. The size is
 * the declared one: Connect's content-length or the length of a chunked
 * HTTP/1.1 body that has already arrived whole, else `readMaxBytes` (a body
 * still arriving without a length, or one only decompression would size:
 * safe, but such calls run fewer at a time). An enveloped body (gRPC,
 * gRPC-Web) is sized by its envelope's length: the gate leaves an
 * {@link EnvelopeAdmission} in the context, which the body reader
 * (request-size-limit.ts) awaits on the first envelope header, before Connect
 * holds any of the message. Its refusals go through `refused`, which counts
 * and logs them as the gate's own are. Streaming calls pass.
 */
export function createAdmissionGate(
  budget: PayloadBudget,
  readMaxBytes: number,
  refused: (context: HandlerContext, started: number, reason: unknown) => Error,
): (context: HandlerContext) => Promise<void> {
  async function admit(context: HandlerContext, bytes: number): Promise<void> {
    const release = await budget.acquire(bytes, context.signal);
    if (context.signal.aborted) release();
    else context.signal.addEventListener('abort', release, { once: true });
  }
  return async function admitPayload(context) {
    if (context.method.methodKind !== 'unary') return;
    const request = context.values.get(nodeRequestKey);
    if (request === undefined) return;
    if ((context.requestHeader.get('content-type') ?? '').startsWith('application/grpc')) {
      // The body reader drops a refused body, up to the size limit, so the client can read the refusal.
      context.values.set(envelopeAdmissionKey, async (flags, length) => {
        const started = performance.now();
        const bytes = (flags & compressedFlag) !== 0 ? readMaxBytes : Math.min(envelopeHeaderBytes + length, readMaxBytes);
        try {
          await admit(context, bytes);
        } catch (reason) {
          throw refused(context, started, reason);
        }
      });
      return;
    }
    try {
      await admit(context, declaredBytes(request, context, readMaxBytes));
    } catch (error) {
      // Nobody will read this body; discard it, or an HTTP/1.1 connection stalls behind it.
      request.resume();
      throw error;
    }
  };
}

/** A Connect unary body is the message itself, sized by content-length unless compressed. */
function declaredBytes(request: IncomingMessage | Http2ServerRequest, context: HandlerContext, readMaxBytes: number): number {
  if (context.requestMethod === 'GET') return 0;
  if (context.requestHeader.has('content-encoding')) return readMaxBytes;
  const length = Number(context.requestHeader.get('content-length') ?? Number.NaN);
  if (Number.isSafeInteger(length)) return Math.min(length, readMaxBytes);
  // Without a length, only a body that has already arrived whole (HTTP/1.1 marks it complete) has a known size.
  return request instanceof IncomingMessage && request.complete ? request.readableLength : readMaxBytes;
}
