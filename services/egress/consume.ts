import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ConsumeResponseSchema } from '../../gen/minitoolstream/egress_pb.js';
import type { Metrics } from '../platform/metrics.js';
import { inlineMessage } from '../store/read-messages.js';
import type { MessageStore } from '../store/store.js';
import type { SubjectWatch } from './subject-watch.js';
import { reportSkipped, type SkipReportDeps } from './skipped-messages.js';
import { toWireMessage } from './wire-message.js';

/** Payload bytes of one Consume frame at most (a single larger message still goes alone). */
export const consumeFrameMaxBytes = 4 * 1024 * 1024;
/** Messages per frame when the request says 0, and the most a request may ask for. */
export const consumeBatchDefault = 256;
export const consumeBatchMax = 10_000;
/** Delivered but unacked messages before a stream pauses, when the request says 0. */
export const consumeAckPendingDefault = 1000;
/** An empty frame goes out after this long with nothing sent. */
export const consumeHeartbeatMs = 15_000;

export interface ConsumeDeps extends SkipReportDeps {
  store: Pick<MessageStore, 'read' | 'ackFloor' | 'ack'>;
  watch: SubjectWatch;
  metrics: Pick<Metrics, 'fetchedBytes' | 'skippedMessages'>;
  heartbeatMs: number;
}

export interface ConsumeRequestOptions {
  subject: string;
  durable: string;
  /** First sequence of interest; without it the durable's ack floor decides. */
  startSequence: bigint | undefined;
  /** 0 means {@link consumeAckPendingDefault}. */
  maxAckPending: number;
  /** 0 means {@link consumeBatchDefault}; capped at {@link consumeBatchMax}. */
  maxBatch: number;
}

type Frame = MessageInitShape<typeof ConsumeResponseSchema>;

/** Messages per frame for a request's max_batch. */
export function frameMessages(maxBatch: number): number {
  return Math.min(maxBatch || consumeBatchDefault, consumeBatchMax);
}

/**
 * One Consume stream: frames of the subject's messages after the durable's
 * floor (or from `startSequence`), in order, each read as soon as the watch
 * reports a commit beyond what was sent — or taken from what the change feed
 * carried with that commit, which saves the read's round trip. While `maxAckPending` messages are
 * sent but not acked it sends nothing; an ack anywhere wakes it through the
 * store's change feed (after a feed resync, and at each heartbeat while
 * paused, it re-reads the floor itself).
 *
 * Memory bound: a frame is read only when the transport asks for the next
 * one, which connect-node does once the previous frame was written without
 * exceeding the HTTP/2 stream's buffer. A stalled client therefore holds at
 * most the frame being written plus the one just read — 2 × 4 MiB, or a
 * single message larger than that — per stream, never the backlog. Carried
 * messages are held once per process, for all streams, within the subject
 * watch's `carriedBytesMax`.
 */
export async function* consumeFrames(deps: ConsumeDeps, request: ConsumeRequestOptions, signal: AbortSignal): AsyncGenerator<Frame> {
  const { store, metrics, heartbeatMs } = deps;
  const { subject, durable } = request;
  const maxAckPending = BigInt(request.maxAckPending || consumeAckPendingDefault);
  const maxBatch = frameMessages(request.maxBatch);
  const watch = deps.watch.watch(subject, durable);
  try {
    let floor = await store.ackFloor(durable, subject, signal);
    // Messages at or below `origin` count as acked for pausing: they were never sent.
    const origin = request.startSequence !== undefined && request.startSequence > 0n ? request.startSequence - 1n : floor;
    let sent = origin;
    let sentAt = performance.now();
    while (!signal.aborted) {
      if (watch.takeResync()) floor = await store.ackFloor(durable, subject, signal);
      if (watch.ackFloor > floor) floor = watch.ackFloor;
      const room = maxAckPending - (sent - (floor > origin ? floor : origin));
      const last = watch.lastSequence;
      if (room > 0n && last !== undefined && last > sent) {
        const limits = { maxMessages: Math.min(maxBatch, Number(room)), maxBytes: consumeFrameMaxBytes };
        const messages = [];
        // What the change feed carried is sent as is; anything else is read.
        const carried = watch.carried(sent, limits)?.map((row) => inlineMessage(row));
        for await (const message of carried ?? store.read(subject, sent, limits, signal)) {
          if (messages.length === 0) {
            // The floor moves past a gap only when nothing sent before it is still unacked.
            const where = { subject, durable, after: sent, firstRead: message.sequence, afterIsFloor: sent === floor };
            await reportSkipped(deps, where, signal);
          }
          metrics.fetchedBytes.inc(message.data.length);
          messages.push(toWireMessage(message));
          sent = message.sequence;
        }
        if (messages.length > 0) {
          sentAt = performance.now();
          yield { messages };
          continue;
        }
      }
      const quietMs = performance.now() - sentAt;
      if (quietMs < heartbeatMs) {
        await watch.changed(signal, heartbeatMs - quietMs);
        continue;
      }
      sentAt = performance.now();
      yield { messages: [] };
      // A slow fallback for an ack whose change the feed did not carry to this process.
      if (room <= 0n) floor = await store.ackFloor(durable, subject, signal);
    }
  } catch (error) {
    // The client left or the server is draining: the stream simply ends.
    if (!signal.aborted) throw error;
  } finally {
    watch.close();
  }
}
