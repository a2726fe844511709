import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import type { PublishStreamRequest, PublishStreamResponseSchema } from '../../gen/minitoolstream/ingress_pb.js';
import { codeName, toConnectError } from '../platform/rpc-errors.js';
import type { ServiceDeps } from '../platform/start-service.js';
import { PublishOrder } from '../store/publish-order.js';
import { ExpectedLastSequenceError, MessageTooLargeError, UploadExpiredError } from '../store/store.js';
import { checkBatch, payloadBytes } from './publish-batch.js';
import { inOrder, publishStreamReadAhead } from './read-ahead.js';

type Response = MessageInitShape<typeof PublishStreamResponseSchema>;

/**
 * PublishStream: each request is one atomic batch, published as soon as it
 * is read (up to the read-ahead bound of read-ahead.ts) and answered in
 * request order with its `id`. The batches of one stream commit in request
 * order (one {@link PublishOrder}), concurrently with other callers' through
 * the group commit.
 *
 * A batch refused for itself — a bad message, a limit, an upload that expired,
 * an `expected-last-sequence` the subject has moved past — is answered with
 * `error_code`/`error_message` and the stream goes on.
 * Everything else ends the stream with a status after the answers to the
 * requests before it: the store unavailable or closed, shutdown (UNAVAILABLE
 * once the requests read before draining began are answered), and a
 * request the caller's token does not allow (the auth interceptor refuses it
 * as it is read, so no later request is published).
 */
export function publishStreamHandler({ store, metrics, config, logger, readiness }: ServiceDeps) {
  return async function* publishStream(requests: AsyncIterable<PublishStreamRequest>, context: HandlerContext): AsyncGenerator<Response> {
    const order = new PublishOrder();
    const publishOne = async (request: PublishStreamRequest): Promise<Response> => {
      const { id } = request;
      try {
        const results = await store.publish(checkBatch(request.messages, config.maxMessageBytes), context.signal, order);
        metrics.publishedBytes.inc(payloadBytes(request.messages));
        return { id, results, errorCode: '', errorMessage: '' };
      } catch (reason) {
        if (!refusedBatch(reason)) throw reason;
        const error = toConnectError(reason, logger);
        return { id, results: [], errorCode: codeName(error.code).toLowerCase(), errorMessage: error.rawMessage };
      }
    };
    const sizeOf = (request: PublishStreamRequest) => payloadBytes(request.messages);
    const how = yield* inOrder(requests, publishOne, sizeOf, publishStreamReadAhead, readiness.draining);
    if (how === 'stopped') {
      throw new ConnectError('server is shutting down: requests not answered were not published; send them again', Code.Unavailable);
    }
  };
}

/** A failure of one batch, not of the stream. */
function refusedBatch(reason: unknown): boolean {
  if (reason instanceof ConnectError) return reason.code === Code.InvalidArgument || reason.code === Code.ResourceExhausted;
  return reason instanceof MessageTooLargeError || reason instanceof UploadExpiredError || reason instanceof ExpectedLastSequenceError;
}
