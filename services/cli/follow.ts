import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import type { Clients } from './clients.js';

export interface FollowOptions {
  egress: Clients['egress'];
  subject: string;
  durable: string;
  /** Messages per Fetch. */
  batch: number;
  /** Messages below this sequence are acknowledged without being handled. */
  from?: bigint | undefined;
  /** Return once the backlog is handled instead of waiting for new messages. */
  exitWhenIdle?: boolean;
  /** Handles one message before it is acknowledged; `'stop'` ends the follow after acking it. */
  handle(message: Message): 'more' | 'stop' | Promise<'more' | 'stop'>;
  /** Called before each reconnect attempt, after the server went away. */
  onReconnect?(reason: string, delayMs: number): void;
  /** Called once the server answers again after it went away. */
  onReconnected?(): void;
  signal?: AbortSignal;
}

// Codes that mean the server or the path to it went away, not that the request was wrong.
const reconnectCodes = new Set([Code.Unavailable, Code.Aborted, Code.Unknown, Code.Internal]);
const firstDelayMs = 200;
const maxDelayMs = 5000;

/**
 * The subscriber loop of a durable consumer: Fetch until empty (each message
 * handled, then the batch acknowledged up to its last handled sequence), then
 * wait on Subscribe for the next commit and fetch again. Once the server has
 * answered, losing it reconnects with backoff (200 ms doubling to 5 s); a
 * server that never answered, or a request it rejects, throws. Resolves when
 * `handle` says stop, the backlog is done with `exitWhenIdle`, or `signal` aborts.
 */
export async function follow(options: FollowOptions): Promise<void> {
  const { egress, subject, durable, signal } = options;
  let answered = false;
  let reconnecting = false;
  let delayMs = firstDelayMs;

  // Fetch until a Fetch returns nothing; true when handle said stop.
  const drain = async (): Promise<boolean> => {
    for (;;) {
      let acked = 0n;
      let received = 0;
      let stop = false;
      for await (const message of egress.fetch({ subject, durableName: durable, batchSize: options.batch }, { signal })) {
        received++;
        acked = message.sequence;
        if (options.from !== undefined && message.sequence < options.from) continue;
        if ((await options.handle(message)) === 'stop') {
          stop = true;
          break;
        }
      }
      answered = true;
      if (reconnecting) options.onReconnected?.();
      reconnecting = false;
      if (acked > 0n) await egress.ackMessage({ durableName: durable, subject, sequence: acked }, { signal });
      if (stop) return true;
      if (received === 0) return false;
      delayMs = firstDelayMs;
    }
  };

  for (;;) {
    let reason: string;
    try {
      if (await drain()) return;
      if (options.exitWhenIdle) return;
      for await (const _notification of egress.subscribe({ subject, durableName: durable }, { signal })) {
        if (await drain()) return;
      }
      reason = 'the server ended the stream';
    } catch (error) {
      if (signal?.aborted) return;
      const connectError = ConnectError.from(error);
      if (!answered || !reconnectCodes.has(connectError.code)) throw connectError;
      reason = connectError.rawMessage;
    }
    reconnecting = true;
    options.onReconnect?.(reason, delayMs);
    try {
      await sleep(delayMs, undefined, { signal });
    } catch {
      return;
    }
    delayMs = Math.min(delayMs * 2, maxDelayMs);
  }
}
