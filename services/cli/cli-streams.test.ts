import assert from 'node:assert/strict';
import { once } from 'node:events';
import { before, test, type TestContext } from 'node:test';
import { buildOnce, runMts, spawnMts } from '../testing/mts-process.js';
import { startTestServices } from '../testing/test-services.js';

before(() => buildOnce());

async function server(t: TestContext, env: Record<string, string> = {}): Promise<string[]> {
  const services = await startTestServices(t, { env });
  return ['--ingress', services.ingress.url, '--egress', services.egress.url];
}

const jsonLines = <T>(output: Buffer | string): T[] =>
  output
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as T);

const numbered = (count: number): string => Array.from({ length: count }, (_, index) => `line ${index + 1}\n`).join('');

test('publish --batch sends each stdin line as a message with gapless sequences in line order', async (t) => {
  const urls = await server(t);
  const published = await runMts(['publish', 'lines.in', '--batch', '100', '--in-flight', '3', '--json', ...urls], numbered(2500));
  assert.equal(published.code, 0, published.stderr);
  const results = jsonLines<{ line: number; sequence: string }>(published.stdout);
  assert.deepEqual(
    results.map((result) => [result.line, result.sequence]),
    Array.from({ length: 2500 }, (_, index) => [index + 1, String(index + 1)]),
  );
  assert.equal((await runMts(['last', 'lines.in', ...urls])).stdout.toString(), '2500\n');

  const summary = await runMts(['publish', 'lines.crlf', '--batch', '7', '--summary', ...urls], 'a\r\nb\n\nlast without newline');
  assert.equal(summary.code, 0, summary.stderr);
  assert.match(summary.stdout.toString(), /^published 4 of 4 lines in \d+ batches\n$/);
  const stored = await runMts(['fetch', 'lines.crlf', '--durable', 'reader', '--json', ...urls]);
  const texts = jsonLines<{ sequence: string; text: string }>(stored.stdout);
  assert.deepEqual(
    texts.map(({ sequence, text }) => [sequence, text]),
    [
      ['1', 'a'],
      ['2', 'b'],
      ['3', ''],
      ['4', 'last without newline'],
    ],
  );
});

test('publish --batch names the lines of a rejected batch and exits 1; the other batches are published', async (t) => {
  const urls = await server(t, { MAX_MESSAGE_BYTES: String(10 * 1024 * 1024) });
  const tooLarge = `${'x'.repeat(10 * 1024 * 1024 + 1)}\n`;
  const input = `one\ntwo\n${tooLarge}three\n`;
  const result = await runMts(['publish', 'lines.mixed', '--batch', '1', '--json', ...urls], input);
  assert.equal(result.code, 1);
  const lines = jsonLines<{ line: number; sequence?: string; error?: { code: string } }>(result.stdout);
  assert.deepEqual(
    lines.map(({ line, sequence, error }) => [line, sequence ?? error!.code]),
    [
      [1, '1'],
      [2, '2'],
      [3, 'resource_exhausted'],
      [4, '3'],
    ],
  );
  assert.match(result.stderr, /^mts: line 3 not published: resource_exhausted: .*\nmts: 1 of 4 lines were not published\n$/);

  const badSubject = await runMts(['publish', 'a..b', '--batch', '10', ...urls], 'x\ny\n');
  assert.equal(badSubject.code, 1);
  assert.equal(badSubject.stdout.length, 0);
  assert.match(badSubject.stderr, /^mts: lines? 1(-2)? not published: invalid_argument: /);

  const usage = await runMts(['publish', 'x', '--batch', '10', '--data', 'y', ...urls]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^mts: --batch reads lines from stdin/);
});

test('subscribe prints pushed messages in order and acknowledges them', async (t) => {
  const urls = await server(t);
  const published = await runMts(['publish', 'pushed', '--batch', '50', '--summary', ...urls], numbered(300));
  assert.equal(published.code, 0, published.stderr);
  const subscriber = spawnMts(['subscribe', 'pushed', '--durable', 'reader', '--batch', '40', '--count', '310', '--json', ...urls]);
  t.after(() => subscriber.kill());
  const closed = once(subscriber, 'close');
  let output = '';
  subscriber.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // Wait until the backlog is printed, then publish more while it follows.
  const deadline = Date.now() + 60_000;
  while (output.split('\n').length <= 300 && subscriber.exitCode === null && Date.now() < deadline) {
    await Promise.race([once(subscriber.stdout!, 'data'), closed]);
  }
  assert.equal((await runMts(['publish', 'pushed', '--batch', '5', '--summary', ...urls], numbered(10))).code, 0);
  const [code] = await closed;
  assert.equal(code, 0);
  const printed = jsonLines<{ sequence: string; text: string }>(output);
  assert.deepEqual(
    printed.map((message) => message.sequence),
    Array.from({ length: 310 }, (_, index) => String(index + 1)),
  );
  assert.equal(printed[299]!.text, 'line 300');
  assert.equal(printed[309]!.text, 'line 10');

  const rest = await runMts(['fetch', 'pushed', '--durable', 'reader', '--no-ack', ...urls]);
  assert.equal(rest.code, 0);
  assert.equal(rest.stdout.length, 0);
  assert.match(rest.stderr, /no messages on pushed after the position of durable "reader"/);
});

test('bench publish runs in batch and stream mode, and e2e over fetch and consume', async (t) => {
  const urls = await server(t);
  const publish = async (mode: string) => {
    const run = await runMts([
      'bench',
      'publish',
      '--mode',
      mode,
      '--batch',
      '20',
      '--concurrency',
      '2',
      '--duration',
      '300ms',
      '--json',
      ...urls,
    ]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout.toString()) as { mode: string; batch: number; messages: number; requests: number };
  };
  for (const mode of ['batch', 'stream']) {
    const result = await publish(mode);
    assert.equal(result.mode, mode);
    assert.ok(result.requests > 0);
    assert.equal(result.messages, result.requests * 20);
  }
  for (const mode of ['fetch', 'consume']) {
    const run = await runMts(['bench', 'e2e', '--mode', mode, '--rate', '50', '--duration', '400ms', '--json', ...urls]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout.toString()) as { mode: string; sent: number; delivered: number; latency: { count: number } };
    assert.deepEqual([result.mode, result.sent, result.delivered, result.latency.count], [mode, 20, 20, 20]);
  }
  const usage = await runMts(['bench', 'publish', '--mode', 'carrier-pigeon', ...urls]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--mode "carrier-pigeon" is not one of unary, batch, stream/);
});
