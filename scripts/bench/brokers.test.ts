import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import type { BrokerOptions } from './brokers.js';
import { startJetStream } from './jetstream.js';
import { startNativeServer } from './native-server.js';
import { startRedisStreams } from './redis-streams.js';

const options: BrokerOptions = { sizeBytes: 1024, progress: false, drainMs: 10_000 };

/** False (and the test skipped, saying why) when `binary` is not on the PATH. */
function installed(t: TestContext, binary: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0) return true;
  t.skip(`${binary} is not installed (apt-get install -y ${binary})`);
  return false;
}

for (const [binary, start] of [
  ['nats-server', startJetStream],
  ['redis-server', startRedisStreams],
] as const) {
  test(`the comparison drives ${binary}: closed-loop publish and every message end to end`, async (t) => {
    if (!installed(t, binary)) return;
    const broker = await start(options);
    t.after(() => broker.stop());
    const publish = await broker.publish(2, 200);
    assert.ok(publish.messages > 0);
    assert.equal(publish.messages, publish.requests);
    const e2e = await broker.e2e(100, 300);
    assert.deepEqual([e2e.sent, e2e.delivered, e2e.latency.count], [30, 30, 30]);
  });
}

test('a native server leaves neither its process nor its folder behind', async (t) => {
  if (!installed(t, 'redis-server')) return;
  const server = await startNativeServer('redis', 'redis-server', (port, dir) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
  ]);
  assert.ok(existsSync(server.dir));
  await server.stop();
  assert.equal(existsSync(server.dir), false);
  const socket = connect(server.port, '127.0.0.1');
  const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
  assert.equal(error.code, 'ECONNREFUSED');
});
