import type http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import type { ConnectionLimits } from './config.js';
import type { DualProtocolServer } from './dual-protocol-server.js';
import type { Metrics } from './metrics.js';

const sessionWindowBytes = 16 * 1024 * 1024;
// After our GOAWAY the peer gets this long to finish; then the socket goes,
// even if the session never completed its close (unread data keeps it open).
const goawayGraceMs = 1000;
// A session that leaves a ping unanswered this long is gone: HTTP/2 peers answer at once.
const pingAnswerMs = 5000;
const requestTimeout = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

type Phase = 'headers' | 'keep_alive' | 'http2_idle' | 'http2_ping';

interface H1Connection {
  inFlight: number;
  timer: NodeJS.Timeout | undefined;
}

export type ConnectionTracker = ReturnType<typeof createConnectionTracker>;

/**
 * The connections of one server after the protocol is known: HTTP/1 sockets
 * with their requests in flight (http.Server only tracks connections it
 * accepted itself) and HTTP/2 sessions with their open streams. It closes
 * what sits idle (see {@link ConnectionLimits}) and closes gracefully on
 * shutdown. Requests and streams in flight are never cut by a timeout.
 */
export function createConnectionTracker(limits: ConnectionLimits, metrics?: Metrics) {
  let closing = false;
  const h1Sockets = new Map<net.Socket, H1Connection>();
  // Accepted, protocol not known yet: idle by definition.
  const undecided = new Set<net.Socket>();
  // With the socket to destroy: a closing session only ends its socket and waits for the peer.
  const sessions = new Map<http2.ServerHttp2Session, net.Socket | undefined>();
  const timedOut = (phase: Phase) => metrics?.connectionsTimedOut.inc({ phase });

  // Destroyed once what was written is flushed: a pooled client socket may
  // never read our FIN, and a half-closed socket would hold the close.
  const endIfIdle = (socket: net.Socket) => {
    if (closing && h1Sockets.get(socket)?.inFlight === 0) socket.destroySoon();
  };
  /** With no request in flight, the socket has `ms` until the next request's headers are complete. */
  const awaitRequest = (socket: net.Socket, connection: H1Connection, ms: number, phase: Phase) => {
    clearTimeout(connection.timer);
    connection.timer = setTimeout(() => {
      if (connection.inFlight > 0) return;
      timedOut(phase);
      if (phase === 'headers') socket.write(requestTimeout, () => socket.destroy());
      else socket.destroy();
    }, ms);
  };

  return {
    addUndecided(socket: net.Socket): void {
      undecided.add(socket);
      socket.once('close', () => undecided.delete(socket));
    },
    decided(socket: net.Socket): void {
      undecided.delete(socket);
    },
    addH1Socket(socket: net.Socket): void {
      const connection: H1Connection = { inFlight: 0, timer: undefined };
      h1Sockets.set(socket, connection);
      awaitRequest(socket, connection, limits.headersTimeoutMs, 'headers');
      socket.once('close', () => {
        clearTimeout(connection.timer);
        h1Sockets.delete(socket);
      });
    },
    h1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
      const socket = req.socket;
      const connection = h1Sockets.get(socket);
      if (connection === undefined) return;
      connection.inFlight += 1;
      clearTimeout(connection.timer);
      res.once('close', () => {
        connection.inFlight -= 1;
        if (connection.inFlight === 0) awaitRequest(socket, connection, limits.keepAliveTimeoutMs, 'keep_alive');
        endIfIdle(socket);
      });
      // After close starts, answer what is in flight and let the client reconnect elsewhere.
      if (closing) res.shouldKeepAlive = false;
    },
    /** `socket` is the session's own (raw or TLS) socket, destroyed once the session is done. */
    addSession(session: http2.ServerHttp2Session, socket: net.Socket | undefined): void {
      session.setLocalWindowSize(sessionWindowBytes);
      sessions.set(session, socket);
      let openStreams = 0;
      let idle: NodeJS.Timeout | undefined;
      let pinging = false;
      const awaitStream = () => {
        idle = setTimeout(() => {
          timedOut('http2_idle');
          closeSession(session, socket);
        }, limits.http2IdleTimeoutMs);
      };
      // A peer that resets streams may have made nghttp2 end the session with a
      // GOAWAY that Node never reports: the socket then stays open, unread.
      // An unanswered ping tells.
      const checkAlive = () => {
        if (pinging || session.destroyed) return;
        pinging = true;
        const unanswered = setTimeout(() => {
          timedOut('http2_ping');
          destroySession(session, socket);
        }, pingAnswerMs);
        const answered = (error: Error | null) => {
          clearTimeout(unanswered);
          pinging = false;
          if (error) destroySession(session, socket);
        };
        if (!session.ping(answered)) answered(new Error('ping refused'));
      };
      session.on('stream', (stream: http2.ServerHttp2Stream) => {
        openStreams += 1;
        clearTimeout(idle);
        stream.once('close', () => {
          openStreams -= 1;
          if (openStreams === 0 && !session.destroyed) awaitStream();
          if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) checkAlive();
        });
      });
      session.once('close', () => {
        clearTimeout(idle);
        sessions.delete(session);
        socket?.destroy();
      });
      awaitStream();
      if (closing) session.close();
    },
    install(server: net.Server): DualProtocolServer {
      const dual = server as DualProtocolServer;
      dual.closeIdleConnections = () => {
        closing = true;
        undecided.forEach((socket) => socket.destroy());
        h1Sockets.forEach((_, socket) => endIfIdle(socket));
      };
      dual.closeAllConnections = () => {
        closing = true;
        undecided.forEach((socket) => socket.destroy());
        h1Sockets.forEach((_, socket) => socket.destroy());
        sessions.forEach((socket, session) => destroySession(session, socket));
      };
      dual.closeHttp2Sessions = () => {
        closing = true;
        sessions.forEach((_, session) => session.close());
      };
      return dual;
    },
  };
}

/** GOAWAY, then the socket is destroyed after a grace whatever state the session is in. */
function closeSession(session: http2.ServerHttp2Session, socket: net.Socket | undefined): void {
  session.close();
  setTimeout(() => destroySession(session, socket), goawayGraceMs).unref();
}

function destroySession(session: http2.ServerHttp2Session, socket: net.Socket | undefined): void {
  if (!session.destroyed) session.destroy();
  socket?.destroy();
}
