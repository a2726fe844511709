/**
 * Configuration, read once from the environment. This is the only module that
 * touches `process.env`; everything else receives the frozen result. A bad
 * value throws {@link ConfigError} naming the variable and what is allowed.
 */

export type ServiceName = 'ingress' | 'egress';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';
export type StorageKind = 'tarantool' | 'embedded';

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
  /** How long in-flight calls may run after SIGTERM before they are aborted. */
  shutdownTimeoutMs: number;
  /** Allowed CORS origins; `["*"]` allows any. */
  corsOrigins: string[];
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

/** Reads the configuration of one service from `env`. */
export function loadConfig(service: ServiceName, env: Env = process.env): Readonly<Config> {
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
    port: read.integer('SERVER_PORT', defaultPorts[service], 0, 65535),
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
    },
    inlineMaxBytes: read.integer('INLINE_MAX_BYTES', 64 * KiB, 0, maxMessageBytes),
    maxMessageBytes,
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    corsOrigins: read.list('CORS_ORIGINS', ['*']),
  });
}

function reader(env: Env) {
  const raw = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  return {
    string(name: string, fallback: string): string {
      return raw(name) ?? fallback;
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
    list(name: string, fallback: string[]): string[] {
      const value = raw(name);
      if (value === undefined) return fallback;
      return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
    },
  };
}
