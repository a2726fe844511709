import { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { PayloadBudget } from '../store/payload-budget.js';

/** The Node request under a call, so the gate can look at the body before Connect reads it. */
export const nodeRequestKey = createContextKey<IncomingMessage | Http2ServerRequest | undefined>(undefined, {
  description: 'node request',
});

// gRPC and gRPC-Web prefix each message with a flag byte and a big-endian length.
const envelopeHeaderBytes = 5;
const compressedFlag = 0b1;

/**
 * A request gate that admits a unary call only once its request body fits in
 * the process's {@link PayloadBudget}, and holds the reservation until the
 * call has ended (body read, stored, answered). It runs before Connect reads
 * the body, so a call that waits or is refused holds no more than the socket's
 * flow-control window. The size is the declared one: the gRPC envelope's
 * length (peeked, then pushed back), Connect's content-length or the length
 * of a chunked HTTP/1.1 body that has already arrived whole, else
 * `readMaxBytes` (a body still arriving without a length, or one only
 * decompression would size: safe, but such calls run fewer at a time).
 * Streaming calls pass.
 */
export function createAdmissionGate(budget: PayloadBudget, readMaxBytes: number): (context: HandlerContext) => Promise<void> {
  return async function admitPayload(context) {
    if (context.method.methodKind !== 'unary') return;
    const request = context.values.get(nodeRequestKey);
    if (request === undefined) return;
    const bytes = await declaredBytes(request, context, readMaxBytes);
    let release;
    try {
      release = await budget.acquire(bytes, context.signal);
    } catch (error) {
      // Nobody will read this body; discard it, or an HTTP/1.1 connection stalls behind it.
      request.resume();
      throw error;
    }
    if (context.signal.aborted) release();
    else context.signal.addEventListener('abort', release, { once: true });
  };
}

async function declaredBytes(
  request: IncomingMessage | Http2ServerRequest,
  context: HandlerContext,
  readMaxBytes: number,
): Promise<number> {
  const contentType = context.requestHeader.get('content-type') ?? '';
  if (context.requestMethod === 'GET') return 0;
  if (!contentType.startsWith('application/grpc')) {
    // Connect unary: the body is the message, sized by content-length unless compressed.
    if (context.requestHeader.has('content-encoding')) return readMaxBytes;
    const length = Number(context.requestHeader.get('content-length') ?? Number.NaN);
    if (Number.isSafeInteger(length)) return Math.min(length, readMaxBytes);
    // Without a length, only a body that has already arrived whole (HTTP/1.1 marks it complete) has a known size.
    return request instanceof IncomingMessage && request.complete ? request.readableLength : readMaxBytes;
  }
  // grpc-web-text is base64: 8 characters decode to 6 bytes, the 5-byte header included.
  const text = contentType.startsWith('application/grpc-web-text');
  const head = await peek(request, text ? 8 : envelopeHeaderBytes, context.signal);
  const header = text ? Buffer.from(head.toString('latin1'), 'base64') : head;
  if (header.length < envelopeHeaderBytes || (header[0]! & compressedFlag) !== 0) return readMaxBytes;
  return Math.min(envelopeHeaderBytes + header.readUInt32BE(1), readMaxBytes);
}

/**
 * The first `count` bytes of the body (fewer only if it ends sooner), left in
 * the stream for its reader: taken from the stream's buffer if they are there,
 * else chunks are taken as they arrive ('data' fires only
 * for new bytes, so a client that sends a few bytes and stalls costs nothing
 * but the wait), then the stream is paused and the bytes are put back with
 * `unshift` before anyone else reads. A body that ended within them stays
 * consumed: it was shorter than any valid frame.
 */
async function peek(stream: IncomingMessage | Http2ServerRequest, count: number, signal: AbortSignal): Promise<Buffer> {
  signal.throwIfAborted();
  // Usually the head has already arrived and waits in the stream's buffer: read it and put it back.
  if (stream.readableLength >= count && !stream.readableFlowing) {
    const head = stream.read(count) as Buffer;
    stream.unshift(head);
    return head;
  }
  const chunks: Buffer[] = [];
  let length = 0;
  let head = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= count) finish();
    };
    const onEnd = () => finish(true);
    const onStop = () => finish();
    const finish = (ended = false) => {
      stream.pause();
      head = Buffer.concat(chunks, length);
      // Now, in the same tick: an end already scheduled then sees the bytes and waits for them.
      if (length > 0 && !ended && !stream.destroyed) stream.unshift(head);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onStop);
      stream.off('error', onStop);
      signal.removeEventListener('abort', onStop);
      resolve();
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onStop);
    stream.once('error', onStop);
    signal.addEventListener('abort', onStop, { once: true });
  });
  signal.throwIfAborted();
  return head;
}
