import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import type { Clients } from './clients.js';
import { reconnecting, type ReconnectOptions } from './reconnect.js';

export interface FollowOptions extends ReconnectOptions {
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
}

/**
 * The original subscriber loop of a durable consumer: Fetch until empty (each
 * message handled, then the batch acknowledged up to its last handled
 * sequence), then wait on Subscribe for the next commit and fetch again.
 * Reconnects as {@link reconnecting} says. Resolves when `handle` says stop,
 * the backlog is done with `exitWhenIdle`, or `signal` aborts.
 */
export async function follow(options: FollowOptions): Promise<void> {
  const { egress, subject, durable, signal } = options;
  await reconnecting(options, async (answered) => {
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
        answered();
        if (acked > 0n) await egress.ackMessage({ durableName: durable, subject, sequence: acked }, { signal });
        if (stop) return true;
        if (received === 0) return false;
      }
    };
    if ((await drain()) || options.exitWhenIdle) return true;
    for await (const _notification of egress.subscribe({ subject, durableName: durable }, { signal })) {
      if (await drain()) return true;
    }
    return false;
  });
}
