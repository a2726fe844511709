import type http from 'node:http';
import type http2 from 'node:http2';
import type { DualProtocolHandler } from './dual-protocol-server.js';

/**
 * Native gRPC calls (HTTP/2, `application/grpc`, no `Origin`) go to `serveGrpc`
 * (Connect's own Node handler over the same handlers), everything else to
 * `serveHttp` (Fastify). Fastify's request, reply, routing and hook layers
 * cost about a tenth of a unary call's CPU and add nothing to these calls:
 * CORS applies only to browsers, which send `Origin` and cannot speak native gRPC.
 */
export function nativeGrpcFirst(serveGrpc: () => DualProtocolHandler, serveHttp: DualProtocolHandler): DualProtocolHandler {
  return (req, res) => (isNativeGrpc(req) ? serveGrpc() : serveHttp)(req, res);
}

function isNativeGrpc(req: http.IncomingMessage | http2.Http2ServerRequest): boolean {
  if (req.httpVersionMajor !== 2 || req.headers.origin !== undefined) return false;
  const contentType = req.headers['content-type'];
  // application/grpc, application/grpc+proto, application/grpc+json; not application/grpc-web…
  return contentType !== undefined && contentType.startsWith('application/grpc') && contentType[16] !== '-';
}
