import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError, type TlsConfig } from './config.js';
import { watchFiles } from './file-watch.js';

/** A request handler that accepts both protocols' compatibility objects. */
export type DualProtocolHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** What Fastify calls on close when the server is its own (see fastify.js onClose). */
export interface DualProtocolServer extends net.Server {
  closeIdleConnections(): void;
  closeAllConnections(): void;
  closeHttp2Sessions(): void;
}

export interface DualProtocolOptions {
  /** Serve TLS (ALPN h2 and http/1.1) instead of cleartext sniffing. */
  tls?: TlsConfig | undefined;
  logger?: Logger;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const MiB = 1024 * 1024;
// Large messages: a 64 KiB stream window costs a round trip per 64 KiB, and
// the 10 MB default session budget refuses a few concurrent multi-MiB calls
// with ENHANCE_YOUR_CALM.
const http2Options = { settings: { initialWindowSize: 4 * MiB }, maxSessionMemory: 256 };
const sessionWindowBytes = 16 * MiB;

/**
 * One TCP port for gRPC over cleartext HTTP/2 (prior knowledge) and for
 * HTTP/1.1 (Connect, gRPC-Web, probes, /metrics). The first bytes of each
 * connection are compared with the HTTP/2 preface and the socket is handed,
 * untouched, to an `http2` or `http` server: Node's http2 session takes over
 * data already buffered on the socket, so its native read path is kept.
 * With `tls`, the port speaks TLS instead (see createTlsServer).
 */
export function createDualProtocolServer(handler: DualProtocolHandler, options: DualProtocolOptions = {}): DualProtocolServer {
  const connections = createConnectionTracker();
  if (options.tls) return createTlsServer(handler, connections, options.tls, options);
  const h1 = http.createServer((req, res) => {
    connections.h1Request(req, res);
    handler(req, res);
  });
  const h2 = http2.createServer(http2Options, handler);
  h2.on('session', connections.addSession);
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
        connections.addH1Socket(socket);
        h1.emit('connection', socket);
        socket.emit('data', firstBytes);
      }
    });
  });
  server.once('close', () => {
    h1.close();
    h2.close();
  });
  return connections.install(server);
}

/**
 * The TLS variant: Node's secure HTTP/2 server negotiates `h2` or `http/1.1`
 * by ALPN itself (`allowHTTP1`). Certificate and key are re-read when either
 * file changes, so a renewed certificate is served without a restart; a pair
 * that fails to load leaves the previous one in place.
 */
function createTlsServer(
  handler: DualProtocolHandler,
  connections: ConnectionTracker,
  tls: TlsConfig,
  options: DualProtocolOptions,
): DualProtocolServer {
  const server = http2.createSecureServer({ ...http2Options, allowHTTP1: true, ...readTlsFiles(tls) }, (req, res) => {
    if (req.httpVersionMajor === 1) connections.h1Request(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
    handler(req, res);
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol !== 'h2') connections.addH1Socket(socket);
  });
  server.on('session', connections.addSession);
  server.on('sessionError', () => {});
  const stopWatching = watchFiles([tls.certFile, tls.keyFile], tls.reloadIntervalMs, () => {
    try {
      server.setSecureContext(readTlsFiles(tls));
      options.logger?.info('TLS certificate reloaded');
    } catch (error) {
      options.logger?.warn({ problem: (error as Error).message }, 'TLS certificate or key unusable; serving the previous pair');
    }
  });
  server.once('close', stopWatching);
  return connections.install(server as unknown as net.Server);
}

function readTlsFiles(tls: TlsConfig): { cert: Buffer; key: Buffer } {
  const read = (variable: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new ConfigError(variable, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  return { cert: read('TLS_CERT_FILE', tls.certFile), key: read('TLS_KEY_FILE', tls.keyFile) };
}

type ConnectionTracker = ReturnType<typeof createConnectionTracker>;

/**
 * The connections of one server, for a graceful close: HTTP/1 sockets with
 * their requests in flight (http.Server only tracks connections it accepted
 * itself) and HTTP/2 sessions.
 */
function createConnectionTracker() {
  let closing = false;
  const h1Sockets = new Map<net.Socket, number>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const endIfIdle = (socket: net.Socket) => {
    if (closing && h1Sockets.get(socket) === 0) socket.end();
  };
  return {
    addH1Socket(socket: net.Socket): void {
      h1Sockets.set(socket, 0);
      socket.once('close', () => h1Sockets.delete(socket));
    },
    h1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
      const socket = req.socket;
      h1Sockets.set(socket, (h1Sockets.get(socket) ?? 0) + 1);
      res.once('close', () => {
        h1Sockets.set(socket, (h1Sockets.get(socket) ?? 1) - 1);
        endIfIdle(socket);
      });
      // After close starts, answer what is in flight and let the client reconnect elsewhere.
      if (closing) res.shouldKeepAlive = false;
    },
    addSession(session: http2.ServerHttp2Session): void {
      session.setLocalWindowSize(sessionWindowBytes);
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
      if (closing) session.close();
    },
    install(server: net.Server): DualProtocolServer {
      const dual = server as DualProtocolServer;
      dual.closeIdleConnections = () => {
        closing = true;
        h1Sockets.forEach((_, socket) => endIfIdle(socket));
      };
      dual.closeAllConnections = () => {
        closing = true;
        h1Sockets.forEach((_, socket) => socket.destroy());
        for (const session of sessions) session.destroy();
      };
      dual.closeHttp2Sessions = () => {
        closing = true;
        for (const session of sessions) session.close();
      };
      return dual;
    },
  };
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
