import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test, type TestContext } from 'node:test';
import { buildOnce, runMts, spawnMts } from '../testing/mts-process.js';
import { startTestServices } from '../testing/test-services.js';
import { within } from '../testing/within.js';

before(() => buildOnce());

async function server(t: TestContext): Promise<string[]> {
  const services = await startTestServices(t);
  return ['--ingress', services.ingress.url, '--egress', services.egress.url];
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

test('publish, last and fetch print what was stored; --no-ack leaves the position', async (t) => {
  const urls = await server(t);
  assert.equal((await runMts(['last', 'orders.new', ...urls])).stdout.toString(), '0\n');
  assert.equal(
    (await runMts(['publish', 'orders.new', '--data', 'one', '-H', 'content-type=text/plain', ...urls])).stdout.toString(),
    '1\n',
  );
  const piped = await runMts(['publish', 'orders.new', '--json', ...urls], Buffer.from([0, 1, 2, 255]));
  assert.deepEqual(JSON.parse(piped.stdout.toString()), { sequence: '2', objectName: '' });
  assert.equal(
    (await runMts(['last', 'orders.new', '--json', ...urls])).stdout.toString(),
    '{"subject":"orders.new","lastSequence":"2"}\n',
  );

  const peek = await runMts(['fetch', 'orders.new', '--durable', 'd', '--no-ack', '--json', ...urls]);
  const messages = peek.stdout
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(
    messages.map(({ sequence, headers, size, text, base64 }) => ({ sequence, headers, size, text, base64 })),
    [
      { sequence: '1', headers: { 'content-type': 'text/plain', 'data-size': '3' }, size: 3, text: 'one', base64: undefined },
      { sequence: '2', headers: { 'data-size': '4' }, size: 4, text: undefined, base64: 'AAEC/w==' },
    ],
  );
  const text = await runMts(['fetch', 'orders.new', '--durable', 'd', '--batch', '1', ...urls]);
  assert.match(text.stdout.toString(), /^orders\.new #1  3 bytes  \S+Z\n  content-type: text\/plain\n  data-size: 3\none\n$/);
  const binary = await runMts(['fetch', 'orders.new', '--durable', 'd', ...urls]);
  assert.match(
    binary.stdout.toString(),
    /^orders\.new #2  4 bytes .*\n  data-size: 4\n  \(binary data not shown; save it with: mts fetch \.\.\. --output FILE\)\n$/,
  );
  const empty = await runMts(['fetch', 'orders.new', '--durable', 'd', ...urls]);
  assert.equal(empty.code, 0);
  assert.equal(empty.stdout.length, 0);
  assert.match(empty.stderr, /no messages on orders\.new after the position of durable "d"/);
});

test('a 10 MiB file goes in and comes back byte-exact through --output and --raw', async (t) => {
  const urls = await server(t);
  const dir = await mkdtemp(path.join(tmpdir(), 'mts-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const payload = randomBytes(10 * 1024 * 1024);
  await writeFile(path.join(dir, 'in.bin'), payload);

  assert.equal((await runMts(['publish', 'files.big', '--file', path.join(dir, 'in.bin'), ...urls])).stdout.toString(), '1\n');
  const saved = await runMts(['fetch', 'files.big', '--durable', 'saver', '--output', path.join(dir, 'out.bin'), ...urls]);
  assert.equal(saved.code, 0, saved.stderr);
  assert.match(saved.stdout.toString(), /#1  10485760 bytes .*saved to /s);
  assert.equal(sha256(await readFile(path.join(dir, 'out.bin'))), sha256(payload));
  const raw = await runMts(['fetch', 'files.big', '--durable', 'piper', '--raw', ...urls]);
  assert.equal(raw.code, 0, raw.stderr);
  assert.equal(sha256(raw.stdout), sha256(payload));
});

test('subscribe follows new messages and acknowledges what it printed', async (t) => {
  const urls = await server(t);
  await runMts(['publish', 'live.feed', '--data', 'before', ...urls]);
  const subscriber = spawnMts(['subscribe', 'live.feed', '--durable', 'reader', '--from', '2', '--count', '2', '--json', ...urls]);
  t.after(() => subscriber.kill());
  // Listen now: the subscriber may finish while the test is still publishing.
  const subscriberClosed = once(subscriber, 'close');
  let output = '';
  subscriber.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await runMts(['publish', 'live.feed', '--data', 'second', ...urls]);
  await runMts(['publish', 'live.feed', '--data', 'third', ...urls]);
  const [code] = await within(subscriberClosed, 30_000, 'the subscriber to exit');
  assert.equal(code, 0);
  assert.deepEqual(
    output
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { text: string }).text),
    ['second', 'third'],
  );
  // Everything up to the third was acknowledged: nothing is left for this durable.
  const rest = await runMts(['subscribe', 'live.feed', '--durable', 'reader', '--exit-when-idle', ...urls]);
  assert.equal(rest.code, 0);
  assert.equal(rest.stdout.length, 0);
});

test('errors are one line with the gRPC code and a non-zero exit', async (t) => {
  const urls = await server(t);
  const bad = await runMts(['publish', 'a..b', '--data', 'x', ...urls]);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'mts: invalid_argument: subject "a..b" has an empty token\n');
  const badConnect = await runMts(['last', 'a b', '--protocol', 'connect', ...urls]);
  assert.equal(badConnect.code, 1);
  assert.equal(badConnect.stderr, 'mts: invalid_argument: subject must not contain whitespace or control characters\n');

  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const { port } = closed.address() as { port: number };
  closed.close();
  await once(closed, 'close');
  for (const args of [
    ['publish', 'x', '--data', 'y'],
    ['subscribe', 'x', '--durable', 'd'],
    ['last', 'x'],
  ]) {
    const down = await runMts([...args, '--ingress', `http://127.0.0.1:${port}`, '--egress', `http://127.0.0.1:${port}`]);
    assert.equal(down.code, 1, args.join(' '));
    assert.match(down.stderr, /^mts: unavailable: .*\n$/);
  }

  const usage = await runMts(['subscribe', 'x', ...urls]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^mts: --durable NAME is required\n/);
  assert.equal((await runMts(['nonsense'])).code, 2);
  const help = await runMts(['fetch', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout.toString(), /^Usage: mts fetch <subject> --durable NAME/);
});

test('bench publish and e2e report throughput and latency percentiles as JSON', async (t) => {
  const urls = await server(t);
  const publish = await runMts(['bench', 'publish', '--duration', '300ms', '--concurrency', '1,2', '--json', ...urls]);
  assert.equal(publish.code, 0, publish.stderr);
  const levels = publish.stdout
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { concurrency: number; messages: number; latency: { p50Ms: number; p99Ms: number } });
  assert.deepEqual(
    levels.map((level) => level.concurrency),
    [1, 2],
  );
  for (const level of levels) {
    assert.ok(level.messages > 0);
    assert.ok(level.latency.p50Ms > 0 && level.latency.p50Ms <= level.latency.p99Ms);
  }
  const e2e = await runMts(['bench', 'e2e', '--rate', '50', '--duration', '400ms', '--json', ...urls]);
  assert.equal(e2e.code, 0, e2e.stderr);
  const result = JSON.parse(e2e.stdout.toString()) as { sent: number; delivered: number; latency: { count: number } };
  assert.equal(result.sent, 20);
  assert.equal(result.delivered, 20);
  assert.equal(result.latency.count, 20);
});
