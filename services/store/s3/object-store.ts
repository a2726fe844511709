import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
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
  /** Bound of one request, ms (default 30 000; large objects need time). */
  requestTimeoutMs?: number;
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
  const { bucket, requestTimeoutMs = 30_000, healthTimeoutMs = 1000 } = options;
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
    const work = async () => {
      await ensureBucket();
      return action();
    };
    try {
      return await withCallBounds(`minio ${operation}`, work, timeoutMs, signal);
    } catch (error) {
      if (signal?.aborted && error === signal.reason) throw error;
      throw classify(operation, error);
    }
  }

  return {
    name: 'minio',

    async put(key, data, contentType, signal) {
      const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      await run(`put ${key}`, () => client.putObject(bucket, key, body, body.length, { 'Content-Type': contentType }), signal);
    },

    async get(key, signal) {
      return run(
        `get ${key}`,
        async () => {
          const stream = await client.getObject(bucket, key);
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          return new Uint8Array(Buffer.concat(chunks));
        },
        signal,
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
