import { PassThrough } from 'node:stream';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { codeFromString } from '@connectrpc/connect/protocol-connect';
import type { PublishRequestSchema, PublishResponse, PublishStreamRequestSchema } from '../../gen/minitoolstream/ingress_pb.js';
import { UsageError } from './args.js';
import type { Clients } from './clients.js';

export type PublishMessage = MessageInitShape<typeof PublishRequestSchema>;

/** One open PublishStream: each `send` is one atomic batch, answered in request order. */
export interface PublishStream {
  /**
   * Sends `messages` as one request; resolves with their results, or rejects
   * with the batch's own error (the stream goes on) or the stream's failure.
   */
  send(messages: PublishMessage[]): Promise<PublishResponse[]>;
  /** The failure that ended the stream, once it has. */
  readonly failed: ConnectError | undefined;
  /** Ends the request side and waits for the remaining answers. */
  close(): Promise<void>;
}

interface Waiter {
  id: bigint;
  resolve(results: PublishResponse[]): void;
  reject(error: ConnectError): void;
}

/**
 * Opens a PublishStream on `ingress`. Requests are written as they are sent
 * (the caller bounds how many wait); a response settles the oldest waiter,
 * whose id it must echo. When the stream fails, every waiting and later send
 * rejects with that failure.
 */
export function openPublishStream(ingress: Clients['ingress'], signal?: AbortSignal): PublishStream {
  const requests = new PassThrough({ objectMode: true });
  const waiting: Waiter[] = [];
  let nextId = 1n;
  let failure: ConnectError | undefined;

  const fail = (error: ConnectError): void => {
    failure ??= error;
    requests.destroy();
    for (const waiter of waiting.splice(0)) waiter.reject(failure);
  };
  const reading = (async () => {
    const responses = ingress.publishStream(requests as AsyncIterable<MessageInitShape<typeof PublishStreamRequestSchema>>, { signal });
    for await (const response of responses) {
      const waiter = waiting.shift();
      if (waiter === undefined || waiter.id !== response.id) {
        throw new ConnectError(`the server answered request ${response.id} out of order`, Code.Internal);
      }
      if (response.errorCode === '') waiter.resolve(response.results);
      else waiter.reject(new ConnectError(response.errorMessage, codeFromString(response.errorCode) ?? Code.Unknown));
    }
    if (waiting.length > 0) throw new ConnectError('the server ended the stream before answering every request', Code.Unavailable);
  })().catch((error: unknown) => fail(ConnectError.from(error)));

  return {
    send(messages) {
      if (failure !== undefined) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<PublishResponse[]>((resolve, reject) => {
        waiting.push({ id, resolve, reject });
        requests.write({ id, messages });
      });
    },
    get failed() {
      return failure;
    },
    async close() {
      if (!requests.destroyed) requests.end();
      await reading;
      if (failure !== undefined) throw failure;
    },
  };
}

/** PublishStream sends and receives at once, which needs HTTP/2; `--protocol connect` speaks HTTP/1.1 here. */
export function checkStreamingProtocol(protocol: string, what: string): void {
  if (protocol !== 'grpc') throw new UsageError(`${what} needs --protocol grpc (PublishStream streams both ways over HTTP/2)`);
}
