import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { exportJWK } from 'jose';
import { pino } from 'pino';
import { createTestKeys } from '../../testing/test-tokens.js';
import { ConfigError, loadConfig } from '../config.js';
import { AuthFailure } from './auth-failure.js';
import { openKeySource } from './key-source.js';
import { verifyToken } from './token-verifier.js';

const logger = pino({ level: 'silent' });
const authConfig = (env: Record<string, string>) => loadConfig('egress', { STORAGE: 'embedded', AUTH_MODE: 'required', ...env }).auth;
const reasonOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof AuthFailure ? error.reason : String(error)),
  );

test('configuration: a key source is required, a private key is refused', async (t) => {
  assert.throws(
    () => loadConfig('egress', { STORAGE: 'embedded', AUTH_MODE: 'required' }),
    (error: ConfigError) => error.variable === 'AUTH_MODE',
  );
  assert.throws(
    () => loadConfig('egress', { STORAGE: 'embedded', TLS_CERT_FILE: 'x.crt' }),
    (error: ConfigError) => error.variable === 'TLS_KEY_FILE',
  );
  const keys = createTestKeys(t);
  const privateFile = `${keys.publicKeyFile}.private`;
  fs.writeFileSync(privateFile, keys.rsa.export({ type: 'pkcs8', format: 'pem' }));
  await assert.rejects(openKeySource(authConfig({ JWT_PUBLIC_KEY_FILE: privateFile }), { logger }), (error: ConfigError) => {
    assert.equal(error.variable, 'JWT_PUBLIC_KEY_FILE');
    assert.doesNotMatch(error.message, /BEGIN/);
    return true;
  });
});

test('a key added to the file is trusted after the reload', async (t) => {
  const keys = createTestKeys(t);
  const source = await openKeySource(authConfig({ JWT_PUBLIC_KEY_FILE: keys.publicKeyFile }), { logger, reloadIntervalMs: 20 });
  t.after(() => source.close());
  const config = { issuer: 'minitoolstream', audience: undefined };
  const rotated = await keys.token({ privateKey: keys.foreign });
  assert.equal(await reasonOf(verifyToken(rotated, source, config)), 'bad_signature');
  fs.appendFileSync(keys.publicKeyFile, createPublicKey(keys.foreign).export({ type: 'spki', format: 'pem' }));
  const deadline = Date.now() + 5000;
  while ((await reasonOf(verifyToken(rotated, source, config))) !== 'ok' && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await reasonOf(verifyToken(rotated, source, config)), 'ok');
});

test('JWKS endpoint: keys are fetched, unknown signers refused, an unreachable endpoint is retryable', async (t) => {
  const keys = createTestKeys(t);
  const jwk = { ...(await exportJWK(createPublicKey(keys.rsa))), alg: 'RS256', use: 'sig' };
  const server = http.createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  const source = await openKeySource(authConfig({ JWT_JWKS_URL: url }), { logger });
  const config = { issuer: 'minitoolstream', audience: 'streams' };
  assert.equal(await reasonOf(verifyToken(await keys.token({ audience: 'streams' }), source, config)), 'ok');
  assert.equal(await reasonOf(verifyToken(await keys.token({ audience: 'other' }), source, config)), 'wrong_audience');
  assert.equal(
    await reasonOf(verifyToken(await keys.token({ privateKey: keys.foreign, audience: 'streams' }), source, config)),
    'bad_signature',
  );

  const closed = await openKeySource(authConfig({ JWT_JWKS_URL: 'http://127.0.0.1:1/jwks.json' }), { logger });
  assert.equal(await reasonOf(verifyToken(await keys.token(), closed, config)), 'key_source_unavailable');
});
