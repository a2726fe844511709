import { AsyncLocalStorage } from 'node:async_hooks';
import http, { Agent, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import https, { Agent as HttpsAgent } from 'node:https';
import { Client, S3Error } from 'minio';
import {
  ObjectMissingError,
  StoreClosedError,
  StoreError,
  StoreUnavailableError,
  type DependencyStatus,
  type ObjectStore,
} from '../store.js';
import { withCallBounds } from '../call-bounds.js';

/** Where the payloads live; `MinioConfig` in platform/config.ts fits. */
export interface MinioObjectStoreOptions {
  host: string;
  port: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** Bound of one request before its transfer time, ms (default 30 000). */
  requestTimeoutMs?: number;
  /** Slowest transfer rate still waited for: an object of n bytes gets n / rate more time (default 1 MiB/s). */
  minBytesPerSecond?: number;
  /** Objects larger than this are uploaded in parts (multipart), one part in memory at a time; default 64 MiB. */
  partSizeBytes?: number;
  /** Bound of the health probe, ms (default 1000). */
  healthTimeoutMs?: number;
}

// S3 answers that mean "the server is there but cannot serve now".
const retryableCodes = new Set(['InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout']);

/**
 * Opens the MinIO/S3 object store. Never fails because the server is down:
 * the bucket is created on first use and again after a failed attempt;
 * meanwhile calls throw StoreUnavailableError.
 */
export function openMinioObjectStore(options: MinioObjectStoreOptions): ObjectStore {
  const { bucket, requestTimeoutMs = 30_000, minBytesPerSecond = 1024 * 1024, healthTimeoutMs = 1000 } = options;
  const partSizeBytes = options.partSizeBytes ?? 64 * 1024 * 1024;
  const timeoutFor = (bytes: number) => requestTimeoutMs + Math.ceil((bytes / minBytesPerSecond) * 1000);
  // Our own agent, so close() leaves no pooled socket behind.
  const agent = options.useSSL ? new HttpsAgent({ keepAlive: true }) : new Agent({ keepAlive: true });
  const client = new Client({
    endPoint: options.host,
    port: options.port,
    useSSL: options.useSSL,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    // A fixed region skips a lookup request before the first call.
    region: 'us-east-1',
    transportAgent: agent,
    transport: cancellableTransport(options.useSSL),
    partSize: partSizeBytes,
    // Retrying is the caller's choice; an outage must surface promptly.
    retryOptions: { disableRetry: true },
  });
  let bucketReady: Promise<void> | undefined;
  let closed = false;

  function ensureBucket(): Promise<void> {
    bucketReady ??= (async () => {
      if (await client.bucketExists(bucket)) return;
      try {
        await client.makeBucket(bucket, 'us-east-1');
      } catch (error) {
        // Another replica created it first.
        if (!(error instanceof S3Error && (error as S3Error & { code?: string }).code === 'BucketAlreadyOwnedByYou')) {
          throw error;
        }
      }
    })().catch((error: unknown) => {
      bucketReady = undefined;
      throw error;
    });
    return bucketReady;
  }
  ensureBucket().catch(() => {});

  async function run<T>(operation: string, action: () => Promise<T>, signal?: AbortSignal, timeoutMs = requestTimeoutMs) {
    if (closed) throw new StoreClosedError('object store is closed');
    // The requests the action makes end with the call: on timeout or abort they are destroyed.
    const work = (callSignal: AbortSignal) =>
      withRequestSignal(callSignal, async () => {
        await ensureBucket();
        return action();
      });
    try {
      return await withCallBounds(`minio ${operation}`, work, timeoutMs, signal);
    } catch (error) {
      if (signal?.aborted && error === signal.reason) throw error;
      throw classify(operation, error);
    }
  }

  async function abortParts(key: string): Promise<void> {
    try {
      await run(`abort the parts of ${key}`, () => client.removeIncompleteUpload(bucket, key));
    } catch {
      // The server's own expiry of stale multipart uploads is the fallback.
    }
  }

  return {
    name: 'minio',

    async put(key, data, contentType, signal) {
      const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      try {
        await run(
          `put ${key}`,
          () => client.putObject(bucket, key, body, body.length, { 'Content-Type': contentType }),
          signal,
          timeoutFor(body.length),
        );
      } catch (error) {
        // A failed multipart upload leaves its parts on the server until they are aborted;
        // the caller need not wait for that.
        if (body.length > partSizeBytes) void abortParts(key);
        throw error;
      }
    },

    async get(key, signal, expectedBytes = 0) {
      return run(
        `get ${key}`,
        async () => {
          const stream = await client.getObject(bucket, key);
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          return new Uint8Array(Buffer.concat(chunks));
        },
        signal,
        timeoutFor(expectedBytes),
      );
    },

    async remove(key) {
      await run(`remove ${key}`, () => client.removeObject(bucket, key));
    },

    async checkHealth(): Promise<DependencyStatus> {
      try {
        const exists = await run('health check', () => client.bucketExists(bucket), undefined, healthTimeoutMs);
        return { name: 'minio', ok: exists, detail: exists ? 'ok' : `bucket ${bucket} does not exist` };
      } catch (error) {
        return { name: 'minio', ok: false, detail: error instanceof Error ? error.message : String(error) };
      }
    },

    async close() {
      closed = true;
      agent.destroy();
    },
  };
}

/** The abort signal of the object-store call a request belongs to. */
const requestSignal = new AsyncLocalStorage<AbortSignal>();
/** Object-store calls of this process whose action has not settled yet. */
let callsInFlight = 0;

/**
 * Runs `action` with `signal` as the signal of the requests it makes. An
 * enabled AsyncLocalStorage hooks every promise the process creates (Node 20
 * and 22), about 5% of a publishing ingress's CPU although its object-store
 * calls are rare, so it is disabled again whenever no call is in flight.
 */
async function withRequestSignal<T>(signal: AbortSignal, action: () => Promise<T>): Promise<T> {
  callsInFlight++;
  try {
    return await requestSignal.run(signal, action);
  } finally {
    if (--callsInFlight === 0) requestSignal.disable();
  }
}

/**
 * The client's HTTP transport, with each request bound to the signal of the
 * call that made it. The minio client takes no AbortSignal, so without this a
 * timed-out or abandoned upload would go on streaming to the server.
 */
function cancellableTransport(useSSL: boolean): { request: typeof http.request } {
  const transport = useSSL ? https : http;
  const request = (options: RequestOptions, callback?: (response: IncomingMessage) => void): ClientRequest => {
    const signal = requestSignal.getStore();
    return transport.request(signal ? { ...options, signal } : options, callback);
  };
  return { request: request as typeof http.request };
}

/** S3 refusals keep their meaning; anything else (sockets, 5xx) is an outage. */
function classify(operation: string, error: unknown): unknown {
  if (error instanceof StoreError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof S3Error) {
    const code = (error as S3Error & { code?: string }).code ?? '';
    if (code === 'NoSuchKey') return new ObjectMissingError(`minio ${operation}: no such object`, { cause: error });
    if (!retryableCodes.has(code)) return new StoreError(`minio ${operation} failed: ${code} ${message}`, { cause: error });
  }
  return new StoreUnavailableError(`minio ${operation} failed: ${message}`, { cause: error });
}
