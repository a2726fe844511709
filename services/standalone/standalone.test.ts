import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { eventually } from '../testing/conformance-harness.js';
import { buildOnce, runMts, spawnMts, startStandalone } from '../testing/mts-process.js';
import { within } from '../testing/within.js';

before(() => buildOnce());

/** AckMessage calls the egress answered OK so far, from its /metrics. */
async function acksAnswered(egressUrl: string): Promise<number> {
  const metrics = await (await fetch(`${egressUrl}/metrics`)).text();
  const line = /^grpc_server_handled_total\{[^}]*method="AckMessage"[^}]*code="OK"[^}]*\} (\d+)$/m.exec(metrics);
  return Number(line?.[1] ?? 0);
}

test('npm start: embedded by default, the compiled mts publishes and subscribes, a restart keeps messages and consumers follow across it', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mts-standalone-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));

  const first = await startStandalone(t, { MTS_DATA_DIR: dataDir });
  assert.match(first.stderr(), /MiniToolStream is running/);
  assert.match(first.stderr(), new RegExp(`embedded: SQLite \\+ payload folder in ${dataDir}`));
  assert.match(first.stderr(), /npx mts publish demo\.hello --data hi --ingress http:\/\/127\.0\.0\.1:\d+/);
  const urls = (server: { ingress: string; egress: string }) => ['--ingress', server.ingress, '--egress', server.egress];

  const published = await runMts(['publish', 'demo.hello', '--data', 'hi', ...urls(first)]);
  assert.equal(published.stderr, '');
  assert.equal(published.code, 0);
  assert.equal(published.stdout.toString(), '1\n');

  const shown = await runMts(['subscribe', 'demo.hello', '--durable', 'me', '--exit-when-idle', ...urls(first)]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout.toString(), /^demo\.hello #1  2 bytes  \S+Z\n  data-size: 2\nhi\n$/);

  // A follower that outlives the server: it prints one message now and one after the restart.
  const acksBefore = await acksAnswered(first.egress);
  const follower = spawnMts(['subscribe', 'demo.hello', '--durable', 'follower', '--count', '2', '--json', ...urls(first)]);
  t.after(() => follower.kill());
  // Listen now: the follower may finish while the test is still publishing.
  const followerClosed = once(follower, 'close');
  let followed = '';
  follower.stdout!.on('data', (chunk: Buffer) => (followed += chunk.toString()));
  let followerErrors = '';
  follower.stderr!.on('data', (chunk: Buffer) => (followerErrors += chunk.toString()));
  // The follower acknowledges after printing; a stop before the ack lands would redeliver 1.
  await eventually(async () => followed.includes('"sequence":"1"') && (await acksAnswered(first.egress)) > acksBefore, 30_000);

  assert.equal(await first.stop(), 0);
  const [ingressPort, egressPort] = [first.ingress, first.egress].map((url) => new URL(url).port);
  const second = await startStandalone(t, { MTS_DATA_DIR: dataDir, INGRESS_PORT: ingressPort!, EGRESS_PORT: egressPort! });

  const last = await runMts(['last', 'demo.hello', ...urls(second)]);
  assert.equal(last.stdout.toString(), '1\n');
  const again = await runMts(['subscribe', 'demo.hello', '--durable', 'me', '--exit-when-idle', ...urls(second)]);
  assert.equal(again.stdout.toString(), '', 'the durable position survived the restart');
  const next = await runMts(['publish', 'demo.hello', '--data', 'after restart', ...urls(second)]);
  assert.equal(next.stdout.toString(), '2\n');

  const [code] = await within(followerClosed, 30_000, 'the follower to exit');
  assert.equal(code, 0, followerErrors);
  const lines = followed
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { sequence: string; text: string });
  assert.deepEqual(
    lines.map(({ sequence, text }) => [sequence, text]),
    [
      ['1', 'hi'],
      ['2', 'after restart'],
    ],
  );
  assert.match(followerErrors, /mts: lost the egress service .*; reconnecting in/);
  assert.equal(await second.stop(), 0);
});
