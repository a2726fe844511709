/** The part of tarantool-driver 3.1.0 (which ships no types) this backend uses. */
declare module 'tarantool-driver' {
  import { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';

  interface TarantoolOptions {
    host: string;
    port: number;
    username?: string;
    password?: string;
    /** Connect timeout in ms (not a per-call timeout). */
    timeout?: number;
    enableOfflineQueue?: boolean;
    lazyConnect?: boolean;
    /** Delay before reconnect attempt `times`; a non-number stops reconnecting. */
    retryStrategy?: (times: number) => number | null;
  }

  class TarantoolConnection extends EventEmitter {
    constructor(options: TarantoolOptions);
    /** Numeric connection state; see the `states` table. */
    state: number;
    readonly states: Record<string, number>;
    /** The current connection's socket (a new one after each reconnect). */
    socket?: Socket;
    bufferSlide: { bufferOffset: number; bufferLength: number };
    awaitingResponseLength: number;
    flushQueue(error: Error): void;
    /** IPROTO_CALL_16: the result comes back as `[[value]]`. */
    call(name: string, ...args: unknown[]): Promise<unknown[][]>;
    disconnect(): void;
  }

  export = TarantoolConnection;
}
