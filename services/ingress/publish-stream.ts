import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import type { PublishStreamRequest, PublishStreamResponseSchema } from '../../gen/minitoolstream/ingress_pb.js';
import { codeName, toConnectError } from '../platform/rpc-errors.js';
import type { ServiceDeps } from '../platform/start-service.js';
import { PublishOrder } from '../store/publish-order.js';
import type { Release } from '../store/payload-budget.js';
import { ExpectedLastSequenceError, MessageTooLargeError, PayloadBudgetExceededError, UploadExpiredError } from '../store/store.js';
import { checkBatch, payloadBytes } from './publish-batch.js';
import { inOrder, publishStreamReadAhead } from './read-ahead.js';

type Response = MessageInitShape<typeof PublishStreamResponseSchema>;

const sizeOf = (request: PublishStreamRequest) => payloadBytes(request.messages);

/**
 * PublishStream: each request is one atomic batch, published as soon as it
 * is read (up to the read-ahead bound of read-ahead.ts) and answered in
 * request order with its `id`. The batches of one stream commit in request
 * order (one {@link PublishOrder}), concurrently with other callers' through
 * the group commit.
 *
 * Each batch holds its payload bytes in the process's payload budget from when
 * it is read until it is committed, as a unary publish does.
 * A batch refused for itself — a bad message, a limit (the payload budget
 * too, once its wait is over), an upload that expired,
 * an `expected-last-sequence` the subject has moved past — is answered with
 * `error_code`/`error_message` and the stream goes on.
 * Everything else ends the stream with a status after the answers to the
 * requests before it: the store unavailable or closed, shutdown (UNAVAILABLE
 * once the requests read before draining began are answered), and a
 * request the caller's token does not allow (the auth interceptor refuses it
 * as it is read, so no later request is published).
 */
export function publishStreamHandler({ store, metrics, config, logger, readiness, payloadBudget }: ServiceDeps) {
  return async function* publishStream(requests: AsyncIterable<PublishStreamRequest>, context: HandlerContext): AsyncGenerator<Response> {
    const order = new PublishOrder();
    // Each batch is admitted after the batch before it has taken its turn in `order`, so a
    // batch waiting for room holds back the ones behind it instead of being overtaken.
    let admitted: Promise<unknown> = Promise.resolve();
    const publishOne = async (request: PublishStreamRequest): Promise<Response> => {
      const { id } = request;
      let release: Release | undefined;
      try {
        const batch = checkBatch(request.messages, config.maxMessageBytes);
        const admission = admitted.then(() => payloadBudget.acquire(sizeOf(request), context.signal));
        const published = admission.then((reserved) => {
          release = reserved;
          return store.publish(batch, context.signal, order);
        });
        // Registered after `published`: the next batch's admission runs after this publish took its turn.
        admitted = admission.catch(() => {});
        const results = await published;
        metrics.publishedBytes.inc(sizeOf(request));
        return { id, results, errorCode: '', errorMessage: '' };
      } catch (reason) {
        if (!refusedBatch(reason)) throw reason;
        const error = toConnectError(reason, logger);
        return { id, results: [], errorCode: codeName(error.code).toLowerCase(), errorMessage: error.rawMessage };
      } finally {
        release?.();
      }
    };
    const how = yield* inOrder(requests, publishOne, sizeOf, publishStreamReadAhead, readiness.draining);
    if (how === 'stopped') {
      throw new ConnectError('server is shutting down: requests not answered were not published; send them again', Code.Unavailable);
    }
  };
}

/** A failure of one batch, not of the stream. */
function refusedBatch(reason: unknown): boolean {
  if (reason instanceof ConnectError) return reason.code === Code.InvalidArgument || reason.code === Code.ResourceExhausted;
  return (
    reason instanceof MessageTooLargeError ||
    reason instanceof PayloadBudgetExceededError ||
    reason instanceof UploadExpiredError ||
    reason instanceof ExpectedLastSequenceError
  );
}
