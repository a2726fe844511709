import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import type { Clients } from './clients.js';
import { coalescedAcks } from './coalesced-acks.js';
import { reconnecting, type ReconnectOptions } from './reconnect.js';

export interface ConsumeFollowOptions extends ReconnectOptions {
  egress: Clients['egress'];
  subject: string;
  durable: string;
  /** Messages per pushed frame at most (0: the server's default). */
  maxBatch: number;
  /** Delivered but unacknowledged messages before the server pauses (0: the server's default). */
  maxAckPending?: number;
  /** Messages below this sequence are acknowledged without being handled. */
  from?: bigint | undefined;
  /** Handles one message before it is acknowledged; `'stop'` ends the follow after acking it. */
  handle(message: Message): 'more' | 'stop' | Promise<'more' | 'stop'>;
}

/**
 * A durable consumer over Consume: the server pushes frames of messages after
 * the consumer's ack floor; each message is handled in order, then the last
 * one of the frame is acknowledged (one cumulative ack per frame, merged
 * while an ack is in flight). Reconnects as {@link reconnecting} says; a new
 * Consume starts again from the ack floor. Resolves when `handle` says stop
 * (after that message is acknowledged) or `signal` aborts.
 */
export async function followConsume(options: ConsumeFollowOptions): Promise<void> {
  const { egress, subject, durable, signal } = options;
  await reconnecting(options, async (answered) => {
    // Consume is silent until there is a message, so a GetLastSequence first
    // tells an unreachable server or a refused subject from a quiet subject,
    // and says at once when a lost server is back.
    await egress.getLastSequence({ subject }, { signal });
    answered();
    const attempt = new AbortController();
    const callSignal = signal === undefined ? attempt.signal : AbortSignal.any([signal, attempt.signal]);
    let ackFailure: { error: unknown } | undefined;
    const acks = coalescedAcks(
      (sequence) => egress.ackMessage({ durableName: durable, subject, sequence }, { signal: callSignal }),
      (error) => {
        ackFailure = { error };
        attempt.abort(error);
      },
    );
    const request = { subject, durableName: durable, maxBatch: options.maxBatch, maxAckPending: options.maxAckPending ?? 0 };
    try {
      for await (const frame of egress.consume(request, { signal: callSignal })) {
        answered();
        let handled = 0n;
        for (const message of frame.messages) {
          handled = message.sequence;
          if (options.from !== undefined && message.sequence < options.from) continue;
          if ((await options.handle(message)) === 'stop') {
            acks.ack(handled);
            await acks.flush();
            return true;
          }
        }
        if (handled > 0n) acks.ack(handled);
      }
      await acks.flush();
      return false;
    } catch (error) {
      throw ackFailure?.error ?? error;
    } finally {
      attempt.abort();
    }
  });
}
