import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

/** A request handler that accepts both protocols' compatibility objects. */
export type DualProtocolHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** What Fastify calls on close when the server is its own (see fastify.js onClose). */
export interface DualProtocolServer extends net.Server {
  closeIdleConnections(): void;
  closeAllConnections(): void;
  closeHttp2Sessions(): void;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const MiB = 1024 * 1024;
const streamWindowBytes = 4 * MiB;
const sessionWindowBytes = 16 * MiB;
const sessionMemoryMiB = 256;

/**
 * One TCP port for gRPC over cleartext HTTP/2 (prior knowledge) and for
 * HTTP/1.1 (Connect, gRPC-Web, probes, /metrics). The first bytes of each
 * connection are compared with the HTTP/2 preface and the socket is handed,
 * untouched, to an `http2` or `http` server: Node's http2 session takes over
 * data already buffered on the socket, so its native read path is kept.
 */
export function createDualProtocolServer(handler: DualProtocolHandler): DualProtocolServer {
  let closing = false;
  // HTTP/1 sockets with their count of requests in flight. http.Server only
  // tracks connections it accepted itself, so idleness is tracked here.
  const h1Sockets = new Map<net.Socket, number>();
  const endIfIdle = (socket: net.Socket) => {
    if (closing && h1Sockets.get(socket) === 0) socket.end();
  };
  const h1 = http.createServer((req, res) => {
    const socket = req.socket;
    h1Sockets.set(socket, (h1Sockets.get(socket) ?? 0) + 1);
    res.once('close', () => {
      h1Sockets.set(socket, (h1Sockets.get(socket) ?? 1) - 1);
      endIfIdle(socket);
    });
    // After close starts, answer what is in flight and let the client reconnect elsewhere.
    if (closing) res.shouldKeepAlive = false;
    handler(req, res);
  });
  const h2 = http2.createServer(
    {
      // Large messages: a 64 KiB stream window costs a round trip per 64 KiB,
      // and the 10 MB default session budget refuses a few concurrent
      // multi-MiB calls with ENHANCE_YOUR_CALM.
      settings: { initialWindowSize: streamWindowBytes },
      maxSessionMemory: sessionMemoryMiB,
    },
    handler,
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on('session', (session) => {
    session.setLocalWindowSize(sessionWindowBytes);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    if (closing) session.close();
  });
  // Requests that never reach a handler (garbage, bad preface) only cost the socket.
  h1.on('clientError', (_err, socket) => socket.destroy());
  h2.on('sessionError', () => {});

  const server = net.createServer((socket) => {
    sniff(socket, (isHttp2, firstBytes) => {
      if (isHttp2) {
        socket.pause();
        socket.unshift(firstBytes);
        h2.emit('connection', socket);
      } else {
        // The HTTP/1 parser reads the socket's handle directly and never sees
        // unshifted data, so the bytes already read are fed to its listener.
        h1Sockets.set(socket, 0);
        socket.once('close', () => h1Sockets.delete(socket));
        h1.emit('connection', socket);
        socket.emit('data', firstBytes);
      }
    });
  }) as DualProtocolServer;

  server.closeIdleConnections = () => {
    closing = true;
    h1Sockets.forEach((_, socket) => endIfIdle(socket));
  };
  server.closeAllConnections = () => {
    closing = true;
    h1Sockets.forEach((_, socket) => socket.destroy());
    for (const session of sessions) session.destroy();
  };
  server.closeHttp2Sessions = () => {
    closing = true;
    for (const session of sessions) session.close();
  };
  server.once('close', () => {
    h1.close();
    h2.close();
  });
  return server;
}

/** Reads until the bytes seen either diverge from the HTTP/2 preface or complete it. */
function sniff(socket: net.Socket, dispatch: (isHttp2: boolean, firstBytes: Buffer) => void): void {
  let seen = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const length = Math.min(seen.length, PREFACE.length);
    const matches = seen.subarray(0, length).equals(PREFACE.subarray(0, length));
    if (matches && length < PREFACE.length) return;
    socket.off('data', onData);
    socket.off('error', onError);
    dispatch(matches, seen);
  };
  const onError = () => socket.destroy();
  socket.on('data', onData);
  socket.on('error', onError);
}
