import type http from 'node:http';
import type http2 from 'node:http2';
import type { DualProtocolHandler } from './dual-protocol-server.js';

// The grpc-web spec's text mode: the binary gRPC-Web framing, base64 encoded
// in both directions (the default of the official grpc-web JavaScript client).
const textContentType = /^application\/grpc-web-text(\+proto)?(;.*)?$/i;
const binaryContentType = 'application/grpc-web+proto';
const responseContentType = 'application/grpc-web-text+proto';

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Serves `application/grpc-web-text` on the gRPC-Web handlers: the request
 * is decoded from base64 and announced as binary gRPC-Web, the response is
 * encoded back. Other requests pass through untouched.
 */
export function acceptGrpcWebText(handler: DualProtocolHandler): DualProtocolHandler {
  return (req, res) => {
    const contentType = req.headers['content-type'];
    if (typeof contentType === 'string' && textContentType.test(contentType)) {
      req.headers['content-type'] = binaryContentType;
      decodeRequest(req);
      encodeResponse(res);
    }
    handler(req, res);
  };
}

/** The request body, as the Connect handler iterates it, decoded from base64. */
function decodeRequest(req: Request): void {
  const text = req[Symbol.asyncIterator].bind(req);
  async function* decoded(): AsyncGenerator<Buffer> {
    let pending = '';
    for await (const chunk of { [Symbol.asyncIterator]: text }) {
      pending += Buffer.isBuffer(chunk) ? chunk.toString('latin1') : String(chunk);
      const whole = pending.length - (pending.length % 4);
      yield decodeBase64(pending.slice(0, whole));
      pending = pending.slice(whole);
    }
    if (pending !== '') yield decodeBase64(pending);
  }
  Object.defineProperty(req, Symbol.asyncIterator, { value: decoded, configurable: true });
}

/** Clients may send several padded base64 pieces back to back: each is decoded on its own. */
function decodeBase64(text: string): Buffer {
  return Buffer.concat(text.split(/(?<==)(?=[^=])/).map((piece) => Buffer.from(piece, 'base64')));
}

/**
 * The response as one continuous base64 text: bytes that do not fill a
 * 3-byte group wait for the next write, so padding appears only at the end.
 */
function encodeResponse(res: Response): void {
  const target = res as http.ServerResponse;
  const writeHead = target.writeHead.bind(target);
  const write = target.write.bind(target) as (chunk: string, callback?: (error?: Error | null) => void) => boolean;
  const end = target.end.bind(target) as (chunk?: string, callback?: () => void) => http.ServerResponse;
  let carry = Buffer.alloc(0);
  const encode = (chunk: unknown, encoding?: unknown): string => {
    const bytes = Buffer.concat([
      carry,
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : Buffer.from(chunk as Uint8Array),
    ]);
    const whole = bytes.length - (bytes.length % 3);
    carry = bytes.subarray(whole);
    return bytes.subarray(0, whole).toString('base64');
  };
  const callbackOf = (args: unknown[]) => args.find((arg): arg is () => void => typeof arg === 'function');

  target.writeHead = ((status: number, ...rest: unknown[]) => {
    const headers = rest.find((arg): arg is http.OutgoingHttpHeaders => typeof arg === 'object' && arg !== null);
    if (headers) {
      for (const name of Object.keys(headers)) {
        if (name.toLowerCase() === 'content-type') headers[name] = responseContentType;
        if (name.toLowerCase() === 'content-length') delete headers[name];
      }
    }
    return writeHead(status, ...(rest as []));
  }) as typeof target.writeHead;
  target.write = ((chunk: unknown, ...rest: unknown[]) => write(encode(chunk, rest[0]), callbackOf(rest))) as typeof target.write;
  target.end = ((...args: unknown[]) => {
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    const text = (chunk === undefined || chunk === null ? '' : encode(chunk, args[1])) + carry.toString('base64');
    carry = Buffer.alloc(0);
    return end(text, callbackOf(args));
  }) as typeof target.end;
}
