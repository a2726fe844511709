import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { UniversalHandler, UniversalServerRequest } from '@connectrpc/connect/protocol';
import type { Logger } from 'pino';
import { envelopeAdmissionKey, type EnvelopeAdmission } from './admission-gate.js';

// gRPC, gRPC-Web and Connect streaming frame each message: 1 flag byte, 4 bytes of length.
const envelopeHeaderBytes = 5;

/**
 * Refuses a request message larger than `limitBytes` with a message a person
 * can act on — the configured MAX_MESSAGE_BYTES and its value — instead of
 * Connect's own `readMaxBytes` wording, and logs each refusal. Runs before
 * Connect reads the body (which would otherwise refuse first, at the same
 * limit), by wrapping the body of every handler the routes registered. The
 * first envelope header of a unary call, once within the limit, is also
 * where the admission gate's {@link envelopeAdmissionKey} admits the call:
 * the header is parsed once, for both.
 */
export function limitRequestSize(
  routes: (router: ConnectRouter) => void,
  limits: { limitBytes: number; maxMessageBytes: number },
  logger: Logger,
): (router: ConnectRouter) => void {
  return (router) => {
    routes(router);
    router.handlers.forEach((handler, index) => {
      router.handlers[index] = Object.assign((request: UniversalServerRequest) => handler(limited(request, handler, limits, logger)), {
        protocolNames: handler.protocolNames,
        service: handler.service,
        method: handler.method,
        requestPath: handler.requestPath,
        allowedMethods: handler.allowedMethods,
        supportedContentType: handler.supportedContentType,
      });
    });
  };
}

function limited(
  request: UniversalServerRequest,
  handler: UniversalHandler,
  limits: { limitBytes: number; maxMessageBytes: number },
  logger: Logger,
): UniversalServerRequest {
  const { body } = request;
  if (typeof body !== 'object' || body === null || !(Symbol.asyncIterator in body)) return request;
  const tooLarge = (bytes: number): ConnectError => {
    logger.warn(
      { rpc: `${handler.service.typeName}/${handler.method.name}`, bytes, maxMessageBytes: limits.maxMessageBytes },
      'request refused: message larger than MAX_MESSAGE_BYTES',
    );
    return new ConnectError(
      `message of ${bytes} bytes is larger than MAX_MESSAGE_BYTES (${limits.maxMessageBytes} bytes) allows`,
      Code.ResourceExhausted,
    );
  };
  const contentType = request.header.get('content-type') ?? '';
  if (/^application\/(grpc|connect\+)/.test(contentType)) {
    const admit = () => request.contextValues?.get(envelopeAdmissionKey);
    // Set in place: a copy would read the request's signal, which connect builds only when read.
    request.body = checkEnvelopes(body as AsyncIterable<Uint8Array>, limits.limitBytes, tooLarge, admit);
    return request;
  }
  // A Connect unary body is the message itself; drop the length hint so the check below sees it first.
  const header = new Headers(request.header);
  const declared = Number(header.get('content-length') ?? 0);
  header.delete('content-length');
  request.header = header;
  request.body = checkTotal(body as AsyncIterable<Uint8Array>, declared, limits.limitBytes, tooLarge);
  return request;
}

async function* checkEnvelopes(
  body: AsyncIterable<Uint8Array>,
  limitBytes: number,
  tooLarge: (bytes: number) => Error,
  admission: () => EnvelopeAdmission | undefined,
) {
  const header = new Uint8Array(envelopeHeaderBytes);
  let admitted = false;
  let headerFilled = 0;
  let payloadLeft = 0;
  for await (const chunk of body) {
    for (let offset = 0; offset < chunk.length;) {
      if (payloadLeft > 0) {
        const skipped = Math.min(payloadLeft, chunk.length - offset);
        payloadLeft -= skipped;
        offset += skipped;
        continue;
      }
      const taken = Math.min(envelopeHeaderBytes - headerFilled, chunk.length - offset);
      header.set(chunk.subarray(offset, offset + taken), headerFilled);
      headerFilled += taken;
      offset += taken;
      if (headerFilled === envelopeHeaderBytes) {
        payloadLeft = new DataView(header.buffer).getUint32(1);
        if (payloadLeft > limitBytes) throw tooLarge(payloadLeft);
        if (!admitted) {
          admitted = true;
          // Before the chunk goes on: Connect holds none of the message until the call is admitted.
          try {
            await admission()?.(header[0]!, payloadLeft);
          } catch (refusal) {
            // Dropped up to the size limit, so the client can finish sending and read the refusal;
            // a client that sends more than that gets the refusal without being read further.
            await discard(body, limitBytes);
            throw refusal;
          }
        }
        headerFilled = 0;
      }
    }
    yield chunk;
  }
}

async function discard(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<void> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.length;
    if (seen > maxBytes) return;
  }
}

async function* checkTotal(body: AsyncIterable<Uint8Array>, declared: number, limitBytes: number, tooLarge: (bytes: number) => Error) {
  if (declared > limitBytes) throw tooLarge(declared);
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limitBytes) throw tooLarge(total);
    yield chunk;
  }
}
