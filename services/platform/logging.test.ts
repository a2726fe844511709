import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { spawnService } from '../testing/service-process.js';
import { transportFor } from '../testing/test-services.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';

const secrets = {
  TARANTOOL_PASSWORD: 'tarantool-pw-0451',
  MINIO_ACCESS_KEY_ID: 'access-id-0451',
  MINIO_SECRET_ACCESS_KEY: 'secret-key-0451',
};
const token = 'Bearer token-0451';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mts-logging-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A Publish that succeeds and one that is rejected, both carrying a bearer token. */
async function publishTwice(url: string) {
  const ingress = createClient(IngressService, transportFor(url));
  const headers = { authorization: token };
  await ingress.publish({ subject: 'logging.test', data: new Uint8Array([1]) }, { headers });
  await assert.rejects(
    ingress.publish({ subject: '' }, { headers }),
    (error: unknown) => error instanceof ConnectError && error.code === Code.InvalidArgument,
  );
}

test('secrets are redacted in config objects, headers and nested fields', () => {
  let output = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      output += chunk.toString();
      callback();
    },
  });
  const logger = createLogger({ logLevel: 'debug', logFormat: 'json' }, destination);
  const config = loadConfig('ingress', { ...secrets, STORAGE: 'tarantool' });
  logger.debug({ config }, 'nested config');
  logger.debug(config, 'flat config');
  logger.debug({ request: { headers: { authorization: token } } }, 'request');
  assert.equal(output.trim().split('\n').length, 3);
  for (const value of [...Object.values(secrets), token]) assert.ok(!output.includes(value), `${value} leaked:\n${output}`);
  assert.match(output, /"password":"\[redacted\]"/);
});

test('a spawned service logs one JSON line per RPC with method, code and duration, and no secret at debug', async (t) => {
  const service = await spawnService(t, 'ingress', { ...secrets, STORAGE: 'embedded', MTS_DATA_DIR: await tempDir(t), LOG_LEVEL: 'debug' });
  await publishTwice(service.url);
  await service.waitForOutput('INVALID_ARGUMENT');
  const lines = service
    .stdout()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const rpcs = lines.filter((line) => typeof line.rpc === 'string' && String(line.rpc).startsWith('minitoolstream.'));
  assert.deepEqual(
    rpcs.map((line) => [line.rpc, line.code]),
    [
      ['minitoolstream.IngressService/Publish', 'OK'],
      ['minitoolstream.IngressService/Publish', 'INVALID_ARGUMENT'],
    ],
  );
  for (const line of rpcs) assert.equal(typeof line.ms, 'number');
  for (const value of [...Object.values(secrets), 'token-0451']) assert.ok(!service.stdout().includes(value), `${value} leaked`);
});

test('LOG_FORMAT=text writes readable lines through pino-pretty', async (t) => {
  const service = await spawnService(t, 'ingress', { STORAGE: 'embedded', MTS_DATA_DIR: await tempDir(t), LOG_FORMAT: 'text' });
  await publishTwice(service.url);
  await service.waitForOutput('INVALID_ARGUMENT');
  const rpcLines = service
    .stdout()
    .split('\n')
    .filter((line) => /INFO.*: rpc/.test(line));
  assert.ok(rpcLines.length >= 1, service.stdout());
  assert.throws(() => JSON.parse(rpcLines[0]!));
  assert.match(service.stdout(), /rpc: "minitoolstream\.IngressService\/Publish"/);
});
