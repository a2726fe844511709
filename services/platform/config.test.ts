import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runServiceToExit } from '../testing/service-process.js';
import { ConfigError, loadConfig } from './config.js';

const bad: [string, Record<string, string>][] = [
  ['SERVER_PORT', { STORAGE: 'embedded', SERVER_PORT: 'abc' }],
  ['LOG_LEVEL', { STORAGE: 'embedded', LOG_LEVEL: 'loud' }],
  ['MINIO_USE_SSL', { STORAGE: 'embedded', MINIO_USE_SSL: 'maybe' }],
  ['TARANTOOL_PASSWORD', { STORAGE: 'tarantool' }],
  ['TARANTOOL_ADDRESS', { STORAGE: 'embedded', TARANTOOL_ADDRESS: 'no-port' }],
  ['MINIO_BUCKET_NAME', { STORAGE: 'embedded', MINIO_BUCKET_NAME: 'Bad_Bucket' }],
  ['MAX_MESSAGE_BYTES', { STORAGE: 'embedded', MAX_MESSAGE_BYTES: '1024' }],
  // The payload budget must hold one largest message with its framing.
  ['PAYLOAD_IN_FLIGHT_MAX_BYTES', { STORAGE: 'embedded', PAYLOAD_IN_FLIGHT_MAX_BYTES: String(64 * 1024 * 1024) }],
  ['PAYLOAD_ADMISSION_WAIT_MS', { STORAGE: 'embedded', PAYLOAD_ADMISSION_WAIT_MS: '-1' }],
  ['MINIO_PART_SIZE_BYTES', { STORAGE: 'embedded', MINIO_PART_SIZE_BYTES: '1024' }],
  ['RETENTION_MAX_AGE', { STORAGE: 'embedded', RETENTION_MAX_AGE: '7 weeks' }],
  ['RETENTION_MAX_AGE', { STORAGE: 'embedded', RETENTION_MAX_AGE: '12' }],
  ['RETENTION_MAX_BYTES', { STORAGE: 'embedded', RETENTION_MAX_BYTES: '10GB!' }],
  ['RETENTION_MAX_MESSAGES', { STORAGE: 'embedded', RETENTION_MAX_MESSAGES: '1e6' }],
  // Shorter than a slow upload, the sweep would race publishes it then refuses.
  ['ORPHAN_GRACE_MS', { STORAGE: 'embedded', ORPHAN_GRACE_MS: '100' }],
];

test('retention limits read durations and sizes with units, unset meaning unlimited', () => {
  assert.deepEqual(loadConfig('ingress', { STORAGE: 'embedded' }).retention, { maxAgeMs: 0, maxMessages: 0, maxBytes: 0 });
  const config = loadConfig('ingress', {
    STORAGE: 'embedded',
    RETENTION_MAX_AGE: '7d',
    RETENTION_MAX_MESSAGES: '1000',
    RETENTION_MAX_BYTES: '10GiB',
  });
  assert.deepEqual(config.retention, { maxAgeMs: 7 * 86_400_000, maxMessages: 1000, maxBytes: 10 * 1024 ** 3 });
  assert.equal(loadConfig('ingress', { STORAGE: 'embedded', RETENTION_MAX_AGE: '30m' }).retention.maxAgeMs, 1_800_000);
  assert.equal(loadConfig('ingress', { STORAGE: 'embedded', RETENTION_MAX_BYTES: '512' }).retention.maxBytes, 512);
});

test('a bad value throws a ConfigError naming the variable', () => {
  for (const [variable, env] of bad) {
    assert.throws(
      () => loadConfig('ingress', env),
      (error: unknown) => error instanceof ConfigError && error.variable === variable,
      variable,
    );
  }
});

test('defaults follow the deployment guide', () => {
  const config = loadConfig('egress', { TARANTOOL_PASSWORD: 'p' });
  assert.equal(config.port, 50052);
  assert.equal(config.storage, 'tarantool');
  assert.deepEqual([config.tarantool.host, config.tarantool.port, config.tarantool.user], ['localhost', 3301, 'minitoolstream_connector']);
  assert.deepEqual(
    [config.minio.host, config.minio.port, config.minio.bucket, config.minio.useSSL],
    ['localhost', 9000, 'minitoolstream', false],
  );
  assert.deepEqual([config.logLevel, config.logFormat], ['info', 'json']);
  assert.deepEqual(
    [config.payloadInFlightMaxBytes, config.payloadAdmissionWaitMs, config.minio.partSizeBytes],
    [96 * 1024 * 1024, 2000, 16 * 1024 * 1024],
  );
  assert.deepEqual([config.orphanGraceMs, config.orphanSweepIntervalMs], [3_600_000, 60_000]);
  // The heartbeat of open streams is 15 s; idle sessions are given far longer.
  assert.deepEqual(config.connections, {
    firstBytesTimeoutMs: 10_000,
    headersTimeoutMs: 20_000,
    keepAliveTimeoutMs: 30_000,
    http2IdleTimeoutMs: 300_000,
    maxConnections: 10_000,
    maxConnectionsPerAddress: 1_000,
  });
  assert.ok(Object.isFrozen(config));
});

test('main exits 2 with one line naming the bad variable', async () => {
  // Four processes at once: each pays the TypeScript loader's start-up alone.
  const results = await Promise.all(bad.slice(0, 4).map(([, env]) => runServiceToExit('ingress', env)));
  for (const [index, result] of results.entries()) {
    const variable = bad[index]![0];
    assert.equal(result.code, 2, variable);
    assert.equal(result.stdout, '', variable);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${variable}: ${result.stderr}`);
    assert.match(lines[0]!, new RegExp(`^minitoolstream: invalid configuration: ${variable}: `), variable);
  }
});
