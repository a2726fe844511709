/**
 * Configuration, read once from the environment. This is the only module that
 * touches `process.env`; everything else receives the frozen result. A bad
 * value throws {@link ConfigError} naming the variable and what is allowed.
 */

import type { RetentionLimits } from '../store/store.js';
import { parseDuration, parseSize } from './units.js';

export type ServiceName = 'ingress' | 'egress';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';
export type StorageKind = 'tarantool' | 'embedded';
export type AuthMode = 'disabled' | 'optional' | 'required';

export interface AuthConfig {
  /** disabled: no checks; optional: a missing token is anonymous; required: every RPC needs a token. */
  mode: AuthMode;
  /** Tokens must carry this `iss`. */
  issuer: string;
  /** When set, tokens must carry this `aud`. */
  audience: string | undefined;
  /** PEM file of one or more public keys (several during a rotation). */
  publicKeyFile: string | undefined;
  /** JWKS endpoint, fetched and cached; used instead of a key file. */
  jwksUrl: string | undefined;
}

export interface TlsConfig {
  /** PEM certificate chain and private key; both are re-read when they change. */
  certFile: string;
  keyFile: string;
  /** How often both files are checked for a renewal. */
  reloadIntervalMs: number;
}

/** Timeouts and caps of the one-port server's connections. */
export interface ConnectionLimits {
  /** From accept until the protocol is known: HTTP/2 preface, first HTTP/1.1 bytes, or TLS handshake. */
  firstBytesTimeoutMs: number;
  /** From accept until the first HTTP/1.1 request's headers are complete. */
  headersTimeoutMs: number;
  /** An HTTP/1.1 connection with no request in flight is closed after this long. */
  keepAliveTimeoutMs: number;
  /** An HTTP/2 session with no open stream is closed (GOAWAY) after this long; open streams are never cut. */
  http2IdleTimeoutMs: number;
  /** Open connections per server; more are refused at accept. */
  maxConnections: number;
  /** Open connections from one remote address per server. */
  maxConnectionsPerAddress: number;
}

export interface TarantoolConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  callTimeoutMs: number;
}

export interface MinioConfig {
  host: string;
  port: number;
  accessKey: string;
  secretKey: string;
  bucket: string;
  useSSL: boolean;
  /** Objects above this size are uploaded in parts of this size (S3 multipart). */
  partSizeBytes: number;
}

export interface Config {
  /** Address the server binds; both protocols share one port. */
  host: string;
  port: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  storage: StorageKind;
  /** Embedded backend: folder for the database file and payloads. */
  dataDir: string;
  tarantool: TarantoolConfig;
  minio: MinioConfig;
  /** Payloads up to this size stay in the metadata store. */
  inlineMaxBytes: number;
  /** Largest accepted message payload. */
  maxMessageBytes: number;
  /** Payload bytes one process holds in flight at most (publish bodies, fetched payloads). */
  payloadInFlightMaxBytes: number;
  /** How long a call waits for room in that bound before it is refused with resource_exhausted. */
  payloadAdmissionWaitMs: number;
  /** The default retention policy the services store for every subject; 0 = unlimited. */
  retention: RetentionLimits;
  /** How long in-flight calls may run after SIGTERM before they are aborted. */
  shutdownTimeoutMs: number;
  /** How long a publish's `msg-id` is remembered per subject: a repeat inside it is a duplicate. */
  duplicateWindowMs: number;
  /** Configured consumers with their own `consumer` metric label; the others share one (bounded series). */
  consumerMetricsNames: string[];
  /** Allowed CORS origins; `["*"]` allows any. */
  corsOrigins: string[];
  /** Where the dashboard publishes; undefined means the page's host on port 50051. */
  uiIngressUrl: string | undefined;
  auth: AuthConfig;
  /** Serve the port over TLS (ALPN h2 and http/1.1) instead of cleartext. */
  tls: TlsConfig | undefined;
  connections: ConnectionLimits;
}

/** A configuration value that cannot be used; the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

const defaultPorts: Record<ServiceName, number> = { ingress: 50051, egress: 50052 };
const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Reads the configuration of one service from `env`; its port comes from
 * `portVariable` (`INGRESS_PORT`/`EGRESS_PORT` when one process runs both).
 */
export function loadConfig(service: ServiceName, env: Env = process.env, portVariable = 'SERVER_PORT'): Readonly<Config> {
  const read = reader(env);
  const maxMessageBytes = read.integer('MAX_MESSAGE_BYTES', 64 * MiB, 10 * MiB, 64 * MiB);
  const [tarantoolHost, tarantoolPort] = read.address('TARANTOOL_ADDRESS', 'localhost:3301');
  const [minioHost, minioPort] = read.address('MINIO_ENDPOINT', 'localhost:9000');
  const storage = read.oneOf('STORAGE', ['tarantool', 'embedded'] as const, 'tarantool');
  const tarantoolPassword = read.string('TARANTOOL_PASSWORD', '');
  if (storage === 'tarantool' && tarantoolPassword === '') {
    throw new ConfigError('TARANTOOL_PASSWORD', 'is required with STORAGE=tarantool (or set STORAGE=embedded for a local store)');
  }
  return Object.freeze({
    host: read.string('SERVER_HOST', '0.0.0.0'),
    port: read.integer(portVariable, defaultPorts[service], 0, 65535),
    logLevel: read.oneOf('LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    logFormat: read.oneOf('LOG_FORMAT', ['json', 'text'] as const, 'json'),
    storage,
    dataDir: read.string('MTS_DATA_DIR', './data'),
    tarantool: {
      host: tarantoolHost,
      port: tarantoolPort,
      user: read.string('TARANTOOL_USER', 'minitoolstream_connector'),
      password: tarantoolPassword,
      callTimeoutMs: read.integer('TARANTOOL_TIMEOUT_MS', 5000, 100, 600_000),
    },
    minio: {
      host: minioHost,
      port: minioPort,
      accessKey: read.string('MINIO_ACCESS_KEY_ID', ''),
      secretKey: read.string('MINIO_SECRET_ACCESS_KEY', ''),
      bucket: read.bucket('MINIO_BUCKET_NAME', 'minitoolstream'),
      useSSL: read.boolean('MINIO_USE_SSL', false),
      // S3 allows parts of 5 MiB to 5 GiB.
      partSizeBytes: read.integer('MINIO_PART_SIZE_BYTES', 16 * MiB, 5 * MiB, 5 * 1024 * MiB),
    },
    inlineMaxBytes: read.integer('INLINE_MAX_BYTES', 64 * KiB, 0, maxMessageBytes),
    maxMessageBytes,
    // At least one largest message plus its framing must fit.
    payloadInFlightMaxBytes: read.integer('PAYLOAD_IN_FLIGHT_MAX_BYTES', 96 * MiB, maxMessageBytes + MiB, 64 * 1024 * MiB),
    payloadAdmissionWaitMs: read.integer('PAYLOAD_ADMISSION_WAIT_MS', 2000, 0, 600_000),
    retention: {
      maxAgeMs: read.duration('RETENTION_MAX_AGE'),
      maxMessages: read.integer('RETENTION_MAX_MESSAGES', 0, 0, Number.MAX_SAFE_INTEGER),
      maxBytes: read.size('RETENTION_MAX_BYTES'),
    },
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    duplicateWindowMs: read.integer('DUPLICATE_WINDOW_MS', 2 * 60_000, 1, 7 * 24 * 3_600_000),
    consumerMetricsNames: read.list('CONSUMER_METRICS_NAMES', []),
    corsOrigins: read.list('CORS_ORIGINS', ['*']),
    uiIngressUrl: readUiIngressUrl(read),
    auth: readAuth(read),
    tls: readTls(read),
    connections: readConnectionLimits(read),
  });
}

function readUiIngressUrl(read: Reader): string | undefined {
  const url = read.optional('UI_INGRESS_URL');
  if (url !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(url)) {
    throw new ConfigError('UI_INGRESS_URL', `"${url}" is not an http(s) origin like http://ingress.example:50051`);
  }
  return url?.replace(/\/$/, '');
}

function readConnectionLimits(read: Reader): ConnectionLimits {
  return {
    firstBytesTimeoutMs: read.integer('FIRST_BYTES_TIMEOUT_MS', 10_000, 10, 600_000),
    headersTimeoutMs: read.integer('HEADERS_TIMEOUT_MS', 20_000, 10, 600_000),
    keepAliveTimeoutMs: read.integer('KEEP_ALIVE_TIMEOUT_MS', 30_000, 10, 3_600_000),
    http2IdleTimeoutMs: read.integer('HTTP2_IDLE_TIMEOUT_MS', 300_000, 10, 86_400_000),
    maxConnections: read.integer('MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    maxConnectionsPerAddress: read.integer('MAX_CONNECTIONS_PER_ADDRESS', 1_000, 1, 1_000_000),
  };
}

function readAuth(read: Reader): AuthConfig {
  const mode = read.oneOf('AUTH_MODE', ['disabled', 'optional', 'required'] as const, 'disabled');
  const publicKeyFile = read.optional('JWT_PUBLIC_KEY_FILE');
  const jwksUrl = read.optional('JWT_JWKS_URL');
  if (jwksUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(jwksUrl)) {
    throw new ConfigError('JWT_JWKS_URL', `"${jwksUrl}" is not an http(s) URL`);
  }
  if (publicKeyFile !== undefined && jwksUrl !== undefined) {
    throw new ConfigError('JWT_JWKS_URL', 'set either JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL, not both');
  }
  // Optional mode verifies the tokens it is given, so it needs keys as much as required mode.
  if (mode !== 'disabled' && publicKeyFile === undefined && jwksUrl === undefined) {
    throw new ConfigError('AUTH_MODE', `"${mode}" needs a key source: set JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL`);
  }
  return {
    mode,
    issuer: read.string('JWT_ISSUER', 'minitoolstream'),
    audience: read.optional('JWT_AUDIENCE'),
    publicKeyFile,
    jwksUrl,
  };
}

function readTls(read: Reader): TlsConfig | undefined {
  const certFile = read.optional('TLS_CERT_FILE');
  const keyFile = read.optional('TLS_KEY_FILE');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined) throw new ConfigError('TLS_CERT_FILE', 'is required when TLS_KEY_FILE is set');
  if (keyFile === undefined) throw new ConfigError('TLS_KEY_FILE', 'is required when TLS_CERT_FILE is set');
  return { certFile, keyFile, reloadIntervalMs: read.integer('TLS_RELOAD_INTERVAL_MS', 10_000, 10, 3_600_000) };
}

type Reader = ReturnType<typeof reader>;

function reader(env: Env) {
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  return {
    string(name: string, fallback: string): string {
      return raw(name) ?? fallback;
    },
    optional(name: string): string | undefined {
      return raw(name);
    },
    integer(name: string, fallback: number, min: number, max: number): number {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
        throw new ConfigError(name, `"${value}" is not an integer from ${min} to ${max}`);
      }
      return Number(value);
    },
    boolean(name: string, fallback: boolean): boolean {
      const value = raw(name)?.toLowerCase();
      if (value === undefined) return fallback;
      if (value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      throw new ConfigError(name, `"${value}" is not one of true, false`);
    },
    oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
      const value = raw(name)?.toLowerCase();
      if (value === undefined) return fallback;
      if (!(allowed as readonly string[]).includes(value)) {
        throw new ConfigError(name, `"${value}" is not one of ${allowed.join(', ')}`);
      }
      return value as T;
    },
    address(name: string, fallback: string): [string, number] {
      const value = raw(name) ?? fallback;
      const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(value);
      if (!match || Number(match[2]) > 65535) {
        throw new ConfigError(name, `"${value}" is not host:port`);
      }
      return [match[1]!.replace(/^\[|\]$/g, ''), Number(match[2])];
    },
    bucket(name: string, fallback: string): string {
      const value = raw(name) ?? fallback;
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(value)) {
        throw new ConfigError(name, `"${value}" is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')`);
      }
      return value;
    },
    /** `30m`, `12h`, `7d` (also `ms`, `s`) in milliseconds; 0 when unset. */
    duration(name: string): number {
      return withUnit(name, raw(name), parseDuration, 'a duration like 30m, 12h or 7d');
    },
    /** `512MiB`, `10GiB`, `1GB` or plain bytes; 0 when unset. */
    size(name: string): number {
      return withUnit(name, raw(name), parseSize, 'a size like 512MiB, 10GiB or a number of bytes');
    },
    list(name: string, fallback: string[]): string[] {
      const value = raw(name);
      if (value === undefined) return fallback;
      return value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
    },
  };
}

function withUnit(name: string, value: string | undefined, parse: (text: string) => number | undefined, expected: string): number {
  if (value === undefined) return 0;
  const result = parse(value);
  if (result === undefined) throw new ConfigError(name, `"${value}" is not ${expected}`);
  return result;
}
