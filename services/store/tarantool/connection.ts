import TarantoolConnection from 'tarantool-driver';
import { withCallBounds } from '../call-bounds.js';
import { corkUntilTickEnds } from './tick-cork.js';
import { StoreClosedError, StoreError, StoreUnavailableError } from '../store.js';

/** How to reach Tarantool; the shape of `TarantoolConfig` in platform/config.ts. */
export interface TarantoolConnectionOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Default bound of one call, ms. */
  callTimeoutMs: number;
  /** Cap of the reconnect backoff, ms (default 5000). */
  maxReconnectDelayMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

/**
 * One multiplexed connection to Tarantool. Calls fail fast with
 * {@link StoreUnavailableError} while it is down; it reconnects by itself,
 * forever, with capped exponential backoff.
 */
export interface TarantoolLink {
  /** Calls a stored procedure and returns its single result value. */
  call(name: string, args: unknown[], options?: CallOptions): Promise<unknown>;
  readonly connected: boolean;
  close(): Promise<void>;
}

// Driver states (lib/connection.js) in which the socket is up and writable.
const CONNECT = 256;
const AUTH = 128;
const MID_RESPONSE = new Set([2 /* awaiting */, 16 /* awaiting_length */]);

/** Opens the connection; never fails when Tarantool is down (it keeps retrying). */
export function openTarantoolLink(options: TarantoolConnectionOptions): TarantoolLink {
  const maxDelay = options.maxReconnectDelayMs ?? 5000;
  const driver = new TarantoolConnection({
    host: options.host,
    port: options.port,
    username: options.user,
    password: options.password,
    timeout: Math.min(options.callTimeoutMs, 5000),
    // With the queue on, calls made during an outage wait instead of failing.
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 16), maxDelay),
  });
  let connected = false;
  let closed = false;
  // Why the last attempt to connect failed, when Tarantool itself refused us.
  let refusal: string | undefined;
  // Reconnect failures are expected and reported through calls; without a
  // listener the driver prints every one as unhandled.
  driver.on('error', (error: Error) => {
    if (driver.state === AUTH) refusal = `authentication failed for user ${options.user}: ${error.message}`;
  });
  driver.on('connect', () => {
    connected = true;
    refusal = undefined;
  });
  driver.on('close', () => {
    connected = false;
    // The driver neither rejects in-flight calls on a dropped socket (they
    // would hang) nor forgets a half-read response (it would corrupt the
    // next connection's stream).
    driver.flushQueue(new StoreUnavailableError('tarantool connection lost'));
    driver.bufferSlide.bufferOffset = 0;
    driver.bufferSlide.bufferLength = 0;
    driver.awaitingResponseLength = -1;
  });

  function send(name: string, args: unknown[]): Promise<unknown[][]> {
    // While a large response is half read the driver reports a state in which
    // it rejects new calls, although the socket is fine; the state only
    // gates sending, the reader keeps its own.
    if (MID_RESPONSE.has(driver.state) && driver.socket?.writable) driver.state = CONNECT;
    // The driver writes each call at once, a system call each: calls of one tick (a feed answer
    // renews the wait and wakes streams that read) leave in one write.
    corkUntilTickEnds(driver.socket);
    return driver.call(name, ...args);
  }

  return {
    get connected() {
      return connected;
    },
    async call(name, args, { timeoutMs = options.callTimeoutMs, signal } = {}) {
      if (closed) throw new StoreClosedError('tarantool store is closed');
      signal?.throwIfAborted();
      if (!connected) throw new StoreUnavailableError(`tarantool ${refusal ?? 'unreachable'} at ${options.host}:${options.port}`);
      try {
        const result = await withCallBounds(`tarantool call ${name}`, () => send(name, args), timeoutMs, signal);
        return result[0]?.[0];
      } catch (error) {
        if (signal?.aborted && error === signal.reason) throw error;
        throw classify(name, error);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      connected = false;
      driver.disconnect();
    },
  };
}

// Messages of driver-side failures: the request never got an answer.
const connectionFailures = ['Connection not established yet!', 'Connection is closed.'];

/** Driver and socket failures are retryable; an error raised by Lua is a bug or misconfiguration. */
function classify(name: string, error: unknown): unknown {
  if (error instanceof StoreError) return error;
  if (!(error instanceof Error)) return new StoreError(`tarantool call ${name} failed: ${String(error)}`);
  const code = (error as NodeJS.ErrnoException).code;
  if (connectionFailures.includes(error.message) || code !== undefined) {
    return new StoreUnavailableError(`tarantool call ${name} failed: ${error.message}`, { cause: error });
  }
  return new StoreError(`tarantool procedure ${name} failed: ${error.message}`, { cause: error });
}
