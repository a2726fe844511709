import { authFailureReasons } from './auth/auth-failure.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const RPC_HANDLED = 'grpc_server_handled_total';
export const RPC_SECONDS = 'grpc_server_handling_seconds';
export const OPEN_STREAMS = 'minitoolstream_open_streams';
export const STORAGE_SECONDS = 'minitoolstream_storage_seconds';
export const PUBLISHED_BYTES = 'minitoolstream_published_bytes_total';
export const FETCHED_BYTES = 'minitoolstream_fetched_bytes_total';
export const READY = 'minitoolstream_ready';
export const SKIPPED_MESSAGES = 'minitoolstream_consumer_skipped_messages_total';
export const AUTH_FAILURES = 'minitoolstream_auth_failures_total';
export const STORE_COMMITS = 'minitoolstream_store_commits_total';
export const STORE_COMMIT_MESSAGES = 'minitoolstream_store_commit_messages';
export const STORE_COMMIT_BATCHES = 'minitoolstream_store_commit_batches';

// Powers of four up to the largest merged commit (20,000 messages by default).
const commitSizeBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384];

export const CONNECTIONS_OPEN = 'minitoolstream_connections_open';
export const CONNECTIONS_REFUSED = 'minitoolstream_connections_refused_total';
export const CONNECTIONS_TIMED_OUT = 'minitoolstream_connections_timed_out_total';

/** Which cap refused a connection. */
export const connectionLimits = ['total', 'per_address'] as const;
/** Where a connection was when its timeout closed it. */
export const connectionTimeouts = ['first_bytes', 'headers', 'keep_alive', 'http2_idle', 'http2_ping'] as const;

/**
 * One registry per app instance, so tests and the single-process `npm start`
 * never collide. Labels come from closed sets only: service, method, code,
 * operation, backend — never a subject, durable name or client id.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const authFailures = new Counter({
    name: AUTH_FAILURES,
    help: 'RPCs refused by authentication or authorization, by reason.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Every reason is exported from the start, so a rate over a first failure is not lost.
  for (const reason of authFailureReasons) authFailures.inc({ reason }, 0);
  const connectionsRefused = new Counter({
    name: CONNECTIONS_REFUSED,
    help: 'Connections refused at accept by a cap, by the cap (total or per_address).',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  for (const limit of connectionLimits) connectionsRefused.inc({ limit }, 0);
  const connectionsTimedOut = new Counter({
    name: CONNECTIONS_TIMED_OUT,
    help: 'Connections closed by a timeout or an unanswered ping, by phase.',
    labelNames: ['phase'] as const,
    registers: [registry],
  });
  for (const phase of connectionTimeouts) connectionsTimedOut.inc({ phase }, 0);
  return {
    authFailures,
    connectionsRefused,
    connectionsTimedOut,
    connectionsOpen: new Gauge({
      name: CONNECTIONS_OPEN,
      help: 'TCP connections currently open on the service port.',
      registers: [registry],
    }),
    registry,
    rpcHandled: new Counter({
      name: RPC_HANDLED,
      help: 'RPCs completed, by service, method and gRPC code.',
      labelNames: ['service', 'method', 'code'] as const,
      registers: [registry],
    }),
    rpcSeconds: new Histogram({
      name: RPC_SECONDS,
      help: 'RPC duration in seconds (streams: until the stream ends).',
      labelNames: ['service', 'method'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [registry],
    }),
    openStreams: new Gauge({
      name: OPEN_STREAMS,
      help: 'Server streams currently open.',
      labelNames: ['service', 'method'] as const,
      registers: [registry],
    }),
    storageSeconds: new Histogram({
      name: STORAGE_SECONDS,
      help: 'Storage call duration in seconds, by operation and backend.',
      labelNames: ['operation', 'backend'] as const,
      buckets: [0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [registry],
    }),
    publishedBytes: new Counter({
      name: PUBLISHED_BYTES,
      help: 'Payload bytes accepted by Publish.',
      registers: [registry],
    }),
    storeCommits: new Counter({
      name: STORE_COMMITS,
      help: 'Metadata commits (one Tarantool call or SQLite transaction each), by backend.',
      labelNames: ['backend'] as const,
      registers: [registry],
    }),
    storeCommitMessages: new Histogram({
      name: STORE_COMMIT_MESSAGES,
      help: 'Messages per metadata commit, by backend.',
      labelNames: ['backend'] as const,
      buckets: commitSizeBuckets,
      registers: [registry],
    }),
    storeCommitBatches: new Histogram({
      name: STORE_COMMIT_BATCHES,
      help: 'Publish batches merged into one metadata commit (group commit), by backend.',
      labelNames: ['backend'] as const,
      buckets: commitSizeBuckets,
      registers: [registry],
    }),
    fetchedBytes: new Counter({
      name: FETCHED_BYTES,
      help: 'Payload bytes sent by Fetch.',
      registers: [registry],
    }),
    skippedMessages: new Counter({
      name: SKIPPED_MESSAGES,
      help: 'Messages consumers never received because retention or a purge deleted them first.',
      registers: [registry],
    }),
    ready: new Gauge({
      name: READY,
      help: '1 while the service is ready to serve, else 0.',
      labelNames: ['service'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
