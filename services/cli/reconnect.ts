import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';

export interface ReconnectOptions {
  /** Called before each reconnect attempt, after the server went away. */
  onReconnect?(reason: string, delayMs: number): void;
  /** Called once the server answers again after it went away. */
  onReconnected?(): void;
  signal?: AbortSignal | undefined;
}

// Codes that mean the server or the path to it went away, not that the request was wrong.
const reconnectCodes = new Set([Code.Unavailable, Code.Aborted, Code.Unknown, Code.Internal]);
const firstDelayMs = 200;
const maxDelayMs = 5000;

/**
 * Runs `attempt` until it returns true (done) or `signal` aborts. An attempt
 * that returns false (the server ended its stream) or fails with a code of a
 * lost server is retried with backoff, 200 ms doubling to 5 s; the backoff
 * starts over each time the attempt calls `answered` (the first call after a
 * loss is reported by `onReconnected`). Before the server has
 * answered once, or for a request it rejects, the failure is thrown.
 */
export async function reconnecting(options: ReconnectOptions, attempt: (answered: () => void) => Promise<boolean>): Promise<void> {
  const { signal } = options;
  let answered = false;
  let lost = false;
  let delayMs = firstDelayMs;
  const onAnswer = (): void => {
    answered = true;
    delayMs = firstDelayMs;
    if (lost) options.onReconnected?.();
    lost = false;
  };
  for (;;) {
    let reason: string;
    try {
      if (await attempt(onAnswer)) return;
      reason = 'the server ended the stream';
    } catch (error) {
      if (signal?.aborted) return;
      const connectError = ConnectError.from(error);
      if (!answered || !reconnectCodes.has(connectError.code)) throw connectError;
      reason = connectError.rawMessage;
    }
    lost = true;
    options.onReconnect?.(reason, delayMs);
    try {
      await sleep(delayMs, undefined, { signal });
    } catch {
      return;
    }
    delayMs = Math.min(delayMs * 2, maxDelayMs);
  }
}
