import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually } from '../../testing/conformance-harness.js';
import { startTarantool } from '../../testing/tarantool-server.js';
import { openTarantoolMetadataStore } from './metadata-store.js';

test('a wrong password is reported as an authentication failure, not as an unreachable server', async (t) => {
  const server = await startTarantool(t);
  const store = openTarantoolMetadataStore({
    host: server.host,
    port: server.port,
    user: server.user,
    password: `${server.password}-wrong`,
    callTimeoutMs: 2000,
    maxReconnectDelayMs: 100,
  });
  t.after(() => store.close());
  // checkHealth is what /readyz shows and what the readiness log line carries.
  await eventually(async () => /authentication failed/.test((await store.checkHealth()).detail), 10_000);
  const health = await store.checkHealth();
  assert.equal(health.ok, false);
  assert.match(health.detail, new RegExp(`^tarantool authentication failed for user ${server.user}: .+ at ${server.host}:${server.port}$`));
});
