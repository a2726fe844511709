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

/** Waits (bounded) until `durable` has acknowledged everything on `subject`: a fetch without ack finds nothing. */
async function waitUntilAcked(subject: string, durable: string, urls: string[]): Promise<void> {
  await eventually(async () => {
    const peek = await runMts(['fetch', subject, '--durable', durable, '--no-ack', ...urls]);
    return peek.code === 0 && peek.stdout.length === 0;
  }, 30_000);
}

test('npm start: embedded by default, the compiled mts publishes and subscribes, a restart keeps messages and consumers follow across it', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mts-standalone-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));

  const first = await startStandalone(t, { MTS_DATA_DIR: dataDir });
  assert.match(first.stderr(), /MiniToolStream is running/);
  assert.match(first.stderr(), new RegExp(`embedded: SQLite \\+ payload folder in ${dataDir}`));
  assert.match(first.stderr(), /npx mts publish demo\.hello --data hi --url http:\/\/127\.0\.0\.1:\d+/);
  const urls = (server: { ingress: string; egress: string }) => ['--ingress', server.ingress, '--egress', server.egress];
  const dashboard = /Dashboard: (http:\/\/127\.0\.0\.1:\d+\/ui\/)/.exec(first.stderr());
  assert.equal(dashboard?.[1], `${first.egress}/ui/`);
  assert.match(await (await fetch(dashboard[1])).text(), /<script type="module" src="app-/);
  // Every port serves ingress too, so the page publishes to its own origin.
  assert.deepEqual(await (await fetch(`${dashboard[1]}config.json`)).json(), { ingressUrl: first.egress });

  const published = await runMts(['publish', 'demo.hello', '--data', 'hi', ...urls(first)]);
  assert.equal(published.stderr, '');
  assert.equal(published.code, 0);
  assert.equal(published.stdout.toString(), '1\n');

  const shown = await runMts(['subscribe', 'demo.hello', '--durable', 'me', '--exit-when-idle', ...urls(first)]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout.toString(), /^demo\.hello #1  2 bytes  \S+Z\n  msg-id: \S+\n  data-size: 2\nhi\n$/);

  // A follower that outlives the server: it prints one message now and one after the restart.
  const follower = spawnMts(['subscribe', 'demo.hello', '--durable', 'follower', '--count', '2', '--json', ...urls(first)]);
  t.after(() => follower.kill());
  // Listen now: the follower may finish while the test is still publishing.
  const followerClosed = once(follower, 'close');
  let followed = '';
  follower.stdout!.on('data', (chunk: Buffer) => (followed += chunk.toString()));
  let followerErrors = '';
  follower.stderr!.on('data', (chunk: Buffer) => (followerErrors += chunk.toString()));
  await eventually(async () => followed.includes('"sequence":"1"'), 30_000);
  // The follower acks after printing: stop only once the ack landed, or #1 is (rightly) delivered again.
  await waitUntilAcked('demo.hello', 'follower', urls(first));

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
  assert.match(followerErrors, /mts: the egress service is back; following again/);
  assert.equal(await second.stop(), 0);
});

test('mts subscribe does not print again what it printed before a reconnect, though the ack was lost', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'mts-standalone-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = await startStandalone(t, { MTS_DATA_DIR: dataDir });
  // Larger than the pipe holds: while the test does not read, the follower is stuck printing, before its ack.
  const big = 'x'.repeat(1024 * 1024);
  assert.equal((await runMts(['publish', 'big.lines', '--url', first.ingress], big)).stdout.toString(), '1\n');

  const follower = spawnMts(['subscribe', 'big.lines', '--durable', 'f', '--count', '2', '--json', '--url', first.ingress]);
  t.after(() => follower.kill());
  const followerClosed = once(follower, 'close');
  let followerErrors = '';
  follower.stderr!.on('data', (chunk: Buffer) => (followerErrors += chunk.toString()));
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => follower.stdout!.once('data', (chunk: Buffer) => (chunks.push(chunk), resolve())));
  follower.stdout!.pause();

  assert.equal(await first.stop(), 0);
  follower.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
  follower.stdout!.resume();
  while (!followerErrors.includes('lost the egress service')) await new Promise((resolve) => setTimeout(resolve, 20));
  const port = new URL(first.ingress).port;
  const second = await startStandalone(t, { MTS_DATA_DIR: dataDir, INGRESS_PORT: port! });
  await runMts(['publish', 'big.lines', '--data', 'after restart', '--url', second.ingress]);

  const [code] = await followerClosed;
  assert.equal(code, 0, followerErrors);
  const lines = Buffer.concat(chunks)
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { sequence: string; text: string });
  assert.deepEqual(
    lines.map(({ sequence, text }) => [sequence, text.length]),
    [
      ['1', big.length],
      ['2', 'after restart'.length],
    ],
  );
  assert.match(followerErrors, /mts: the egress service is back/);
  assert.equal(await second.stop(), 0);
});
