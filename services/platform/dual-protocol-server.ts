import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError, type ConnectionLimits, type TlsConfig } from './config.js';
import { createAdmission } from './connection-admission.js';
import { createConnectionTracker, type ConnectionTracker } from './connection-tracker.js';
import { watchFiles } from './file-watch.js';
import type { Metrics } from './metrics.js';

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
  limits: ConnectionLimits;
  /** Serve TLS (ALPN h2 and http/1.1) instead of cleartext sniffing. */
  tls?: TlsConfig | undefined;
  logger?: Logger;
  metrics?: Metrics;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const MiB = 1024 * 1024;
// Large messages: a 64 KiB stream window costs a round trip per 64 KiB, and
// the 10 MB default session budget refuses a few concurrent multi-MiB calls
// with ENHANCE_YOUR_CALM.
const http2Options = { settings: { initialWindowSize: 4 * MiB }, maxSessionMemory: 256 };

/**
 * One TCP port for gRPC over cleartext HTTP/2 (prior knowledge) and for
 * HTTP/1.1 (Connect, gRPC-Web, probes, /metrics). The first bytes of each
 * connection are compared with the HTTP/2 preface and the socket is handed,
 * untouched, to an `http2` or `http` server: Node's http2 session takes over
 * data already buffered on the socket, so its native read path is kept.
 * With `tls`, the port speaks TLS instead (see createTlsServer).
 *
 * Connections beyond the caps are refused at accept, and none may sit idle
 * past its timeout (see {@link ConnectionLimits}). Malformed HTTP/1.1 gets
 * Node's own 400 before the socket closes.
 */
export function createDualProtocolServer(serve: DualProtocolHandler, options: DualProtocolOptions): DualProtocolServer {
  const handler = releaseWritersOnClose(serve);
  const { limits, metrics } = options;
  const connections = createConnectionTracker(limits, metrics);
  const admission = createAdmission(limits, options.logger, metrics);
  if (options.tls) return createTlsServer(handler, connections, admission, options.tls, options);
  // Idle connections are closed by the tracker: Node's keep-alive timer restarts on every byte.
  const h1 = http.createServer({ keepAliveTimeout: 0 }, (req, res) => {
    connections.h1Request(req, res);
    handler(req, res);
  });
  const h2 = http2.createServer(http2Options, handler);
  // The session is created while 'connection' is emitted, so it is paired with the socket here.
  let accepting: net.Socket | undefined;
  h2.on('session', (session) => connections.addSession(session, accepting));
  h2.on('sessionError', () => {});

  const server = net.createServer((socket) => {
    if (!admission.admit(socket)) return;
    connections.addUndecided(socket);
    sniff(socket, limits.firstBytesTimeoutMs, metrics, (isHttp2, firstBytes) => {
      connections.decided(socket);
      if (isHttp2) {
        socket.pause();
        socket.unshift(firstBytes);
        accepting = socket;
        h2.emit('connection', socket);
        accepting = undefined;
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
 * A writer waiting for 'drain' on a response whose client went away (socket
 * closed, HTTP/2 stream reset) would wait forever: the response emits neither
 * 'drain' nor 'error', so a server stream blocked on flow control never
 * ended. 'drain' wakes it; its next write fails and the call ends.
 */
function releaseWritersOnClose(handler: DualProtocolHandler): DualProtocolHandler {
  return (req, res) => {
    res.once('close', () => {
      if (!res.writableFinished) res.emit('drain');
    });
    handler(req, res);
  };
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
  admission: ReturnType<typeof createAdmission>,
  tls: TlsConfig,
  options: DualProtocolOptions,
): DualProtocolServer {
  const { limits } = options;
  const server = http2.createSecureServer(
    { ...http2Options, allowHTTP1: true, handshakeTimeout: limits.firstBytesTimeoutMs, ...readTlsFiles(tls) },
    (req, res) => {
      if (req.httpVersionMajor === 1) connections.h1Request(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse);
      handler(req, res);
    },
  );
  // Before the TLS layer wraps it: a refused socket costs no handshake.
  server.prependListener('connection', (socket: net.Socket) => void admission.admit(socket));
  // The session is created by the server's own 'secureConnection' listener, between these two.
  let accepting: TLSSocket | undefined;
  server.prependListener('secureConnection', (socket: TLSSocket) => (accepting = socket));
  server.on('secureConnection', (socket: TLSSocket) => {
    accepting = undefined;
    if (socket.alpnProtocol !== 'h2') connections.addH1Socket(socket);
  });
  server.on('session', (session) => connections.addSession(session, accepting));
  server.on('sessionError', () => {});
  server.on('tlsClientError', (error: NodeJS.ErrnoException) => {
    if (error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') options.metrics?.connectionsTimedOut.inc({ phase: 'first_bytes' });
  });
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

/**
 * Reads until the bytes seen either diverge from the HTTP/2 preface or
 * complete it; a socket that has not decided within `timeoutMs` is destroyed.
 */
function sniff(
  socket: net.Socket,
  timeoutMs: number,
  metrics: Metrics | undefined,
  dispatch: (isHttp2: boolean, firstBytes: Buffer) => void,
): void {
  let seen = Buffer.alloc(0);
  const undecided = setTimeout(() => {
    metrics?.connectionsTimedOut.inc({ phase: 'first_bytes' });
    socket.destroy();
  }, timeoutMs);
  const stop = () => {
    clearTimeout(undecided);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', stop);
  };
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const length = Math.min(seen.length, PREFACE.length);
    const matches = seen.subarray(0, length).equals(PREFACE.subarray(0, length));
    if (matches && length < PREFACE.length) return;
    stop();
    dispatch(matches, seen);
  };
  const onError = () => socket.destroy();
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', stop);
}
