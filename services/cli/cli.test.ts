import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test, type TestContext } from 'node:test';
import { buildOnce, runMts, spawnMts } from '../testing/mts-process.js';
import { freePort } from '../testing/free-port.js';
import { startTestServices } from '../testing/test-services.js';
import { createTestKeys } from '../testing/test-tokens.js';
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
  assert.deepEqual(JSON.parse(piped.stdout.toString()), { sequence: '2', objectName: '', duplicate: false });
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
  // Without --msg-id, mts publish gives each message a random one, so its retries are safe.
  const withoutMsgId = (headers: unknown) => {
    const { 'msg-id': msgId, ...rest } = headers as Record<string, string>;
    assert.match(msgId ?? '', /^[0-9a-f-]{36}$/);
    return rest;
  };
  assert.deepEqual(
    messages.map(({ sequence, headers, size, text, base64 }) => ({ sequence, headers: withoutMsgId(headers), size, text, base64 })),
    [
      { sequence: '1', headers: { 'content-type': 'text/plain', 'data-size': '3' }, size: 3, text: 'one', base64: undefined },
      { sequence: '2', headers: { 'data-size': '4' }, size: 4, text: undefined, base64: 'AAEC/w==' },
    ],
  );
  const text = await runMts(['fetch', 'orders.new', '--durable', 'd', '--batch', '1', ...urls]);
  assert.match(
    text.stdout.toString(),
    /^orders\.new #1  3 bytes  \S+Z\n  msg-id: \S+\n  content-type: text\/plain\n  data-size: 3\none\n$/,
  );
  const binary = await runMts(['fetch', 'orders.new', '--durable', 'd', ...urls]);
  assert.match(
    binary.stdout.toString(),
    /^orders\.new #2  4 bytes .*\n  msg-id: \S+\n  data-size: 4\n  \(binary data not shown; save it with: mts fetch \.\.\. --output FILE\)\n$/,
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

test('pointed at the wrong service, mts says which service the URL is and where the other RPCs are', async (t) => {
  const services = await startTestServices(t);
  const asked = await runMts(['last', 'a.b', '--egress', services.ingress.url]);
  assert.equal(asked.code, 1);
  assert.equal(
    asked.stderr,
    `mts: unimplemented: ${services.ingress.url} is the ingress service, egress RPCs are on the egress service (port 50052 by default): give --egress URL, or set MTS_EGRESS or MTS_URL\n`,
  );
  const published = await runMts(['publish', 'a.b', '--data', 'x', '--protocol', 'connect', '--ingress', services.egress.url]);
  assert.match(published.stderr, /is the egress service, ingress RPCs are on the ingress service .*give --ingress URL/);
});

test('global flags work before the command, and MTS_INGRESS / MTS_EGRESS point mts at the services', async (t) => {
  const services = await startTestServices(t);
  const before = await runMts(['--ingress', services.ingress.url, '--protocol=connect', 'publish', 'a.b', '--data', 'x']);
  assert.equal(before.stderr, '');
  assert.equal(before.stdout.toString(), '1\n');
  const fromEnv = await runMts(['last', 'a.b'], undefined, { MTS_INGRESS: services.ingress.url, MTS_EGRESS: services.egress.url });
  assert.equal(fromEnv.stdout.toString(), '1\n');
  const unknown = await runMts(['--ingress', services.ingress.url, '--bogus', 'publish']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^mts: unknown command "--bogus"/);
});

test('subjects, info, consumers, consumer info/reset and purge show and change what the store holds', async (t) => {
  const urls = await server(t);
  for (const [subject, data] of [
    ['orders.eu', 'one'],
    ['orders.eu', 'two!'],
    ['stock.level', '42'],
  ])
    await runMts(['publish', subject!, '--data', data!, ...urls]);
  await runMts(['fetch', 'orders.eu', '--durable', 'billing', '--batch', '1', ...urls]);

  const table = await runMts(['subjects', ...urls]);
  assert.equal(table.code, 0, table.stderr);
  const [head, ...rows] = table.stdout.toString().trimEnd().split('\n');
  assert.match(head!, /^SUBJECT\s+MESSAGES\s+BYTES\s+FIRST\s+LAST\s+LAST PUBLISH$/);
  assert.deepEqual(
    rows.map((line) => line.split(/\s+/).slice(0, 5)),
    [
      ['orders.eu', '2', '7', '1', '2'],
      ['stock.level', '1', '2', '1', '1'],
    ],
  );
  const json = await runMts(['subjects', 'orders.*', '--json', ...urls]);
  const listed = json.stdout
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, string>);
  assert.deepEqual(Object.keys(listed[0]!), ['subject', 'messages', 'bytes', 'firstSequence', 'lastSequence', 'lastPublishTime']);
  assert.deepEqual(
    listed.map(({ lastPublishTime, ...rest }) => rest),
    [{ subject: 'orders.eu', messages: '2', bytes: '7', firstSequence: '1', lastSequence: '2' }],
  );
  assert.ok(!Number.isNaN(Date.parse(listed[0]!.lastPublishTime!)));
  const info = await runMts(['info', 'stock.level', '--json', ...urls]);
  assert.equal((JSON.parse(info.stdout.toString()) as Record<string, string>).messages, '1');
  const missing = await runMts(['info', 'no.such', ...urls]);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'mts: not_found: nothing was ever published on subject no.such\n');

  const consumers = await runMts(['consumers', '--json', ...urls]);
  assert.deepEqual(JSON.parse(consumers.stdout.toString()), {
    durable: 'billing',
    subject: 'orders.eu',
    ackFloor: '1',
    lastSequence: '2',
    pending: '1',
  });
  const one = await runMts(['consumer', 'info', 'billing', 'orders.eu', ...urls]);
  assert.match(one.stdout.toString(), /^DURABLE\s+SUBJECT\s+ACKED\s+LAST\s+PENDING\nbilling\s+orders\.eu\s+1\s+2\s+1\n$/);
  const reset = await runMts(['consumer', 'reset', 'billing', 'orders.eu', '--to', '0', '--json', ...urls]);
  assert.equal(reset.code, 0, reset.stderr);
  assert.equal((JSON.parse(reset.stdout.toString()) as Record<string, string>).pending, '2');
  const again = await runMts(['fetch', 'orders.eu', '--durable', 'billing', '--json', ...urls]);
  assert.equal(again.stdout.toString().trim().split('\n').length, 2, 'after the reset the consumer sees both again');
  const beyond = await runMts(['consumer', 'reset', 'billing', 'orders.eu', '--to', '9', ...urls]);
  assert.match(beyond.stderr, /^mts: failed_precondition: /);

  const partly = await runMts(['purge', 'orders.eu', '--through', '1', '--json', ...urls]);
  assert.equal(partly.code, 0, partly.stderr);
  assert.deepEqual(JSON.parse(partly.stdout.toString()), { subject: 'orders.eu', purged: '1', firstSequence: '2' });
  const all = await runMts(['purge', 'orders.eu', ...urls]);
  assert.equal(all.stdout.toString(), 'purged 1 message(s) of orders.eu; first stored sequence now 0\n');
  const emptied = await runMts(['info', 'orders.eu', '--json', ...urls]);
  assert.deepEqual(
    [
      (JSON.parse(emptied.stdout.toString()) as Record<string, string>).messages,
      (JSON.parse(emptied.stdout.toString()) as Record<string, string>).lastSequence,
    ],
    ['0', '2'],
    'a purge keeps the last sequence',
  );

  for (const subject of ['orders.eu', 'orders.us', 'orders.us', 'orders.us.west'])
    await runMts(['publish', subject, '--data', 'x', ...urls]);
  const refused = await runMts(['purge', 'orders.>', '--through', '1', ...urls]);
  assert.match(refused.stderr, /^mts: --through needs a subject, not a pattern/);
  const byPattern = await runMts(['purge', 'orders.*', '--json', ...urls]);
  assert.equal(byPattern.code, 0, byPattern.stderr);
  assert.deepEqual(JSON.parse(byPattern.stdout.toString()), { pattern: 'orders.*', purged: '3', subjects: '2' });
  const rest = await runMts(['purge', 'orders.>', ...urls]);
  assert.equal(rest.stdout.toString(), 'purged 1 message(s) of 3 subject(s) matching orders.>\n');
  const kept = await runMts(['info', 'stock.level', '--json', ...urls]);
  assert.equal(
    (JSON.parse(kept.stdout.toString()) as Record<string, string>).messages,
    '1',
    'a subject the pattern misses keeps its messages',
  );
});

test('mts retention set, get, ls and rm manage policies; get and info show the one in force; discard new refuses naming the limit', async (t) => {
  const urls = await server(t);
  const set = await runMts(['retention', 'set', 'metrics.*', '--max-age', '7d', '--max-messages', '1', '--discard', 'new', ...urls]);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout.toString(), 'metrics.*: max-age 7d, max-messages 1, discard new\n');
  const tie = await runMts(['retention', 'set', '*.cpu', ...urls]);
  assert.match(tie.stderr, /^mts: failed_precondition: pattern "\*\.cpu" ties with the policy "metrics\.\*"/);
  const own = await runMts(['retention', 'set', '>', ...urls]);
  assert.match(own.stderr, /^mts: invalid_argument: the default policy ">" is set by the RETENTION_\* variables/);

  const listed = await runMts(['retention', 'ls', '--json', ...urls]);
  const policies = listed.stdout
    .toString()
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, string>);
  assert.deepEqual(
    policies.find((policy) => policy.pattern === 'metrics.*'),
    {
      pattern: 'metrics.*',
      maxAgeMs: '604800000',
      maxMessages: '1',
      maxBytes: '0',
      maxMessageBytes: '0',
      discard: 'new',
      retention: 'limits',
    },
  );
  const got = await runMts(['retention', 'get', 'metrics.cpu', ...urls]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(
    got.stdout.toString(),
    'metrics.cpu: max-age 7d, max-messages 1, discard new (retention policy "metrics.*")\n',
    'a subject nothing was published on yet has its policy too',
  );
  const fallback = await runMts(['retention', 'get', 'orders.new', '--json', ...urls]);
  assert.deepEqual(JSON.parse(fallback.stdout.toString()), {
    subject: 'orders.new',
    pattern: '>',
    maxAgeMs: '0',
    maxMessages: '0',
    maxBytes: '0',
    maxMessageBytes: '0',
    discard: 'old',
    retention: 'limits',
  });
  assert.match((await runMts(['retention', 'get', 'metrics.*', ...urls])).stderr, /^mts: invalid_argument: /);
  const table = await runMts(['retention', 'ls', ...urls]);
  assert.match(table.stdout.toString(), /^PATTERN\s+MAX AGE\s+MAX MESSAGES\s+MAX BYTES\s+MAX MESSAGE BYTES\s+DISCARD\s+RETENTION\n/);
  assert.match(table.stdout.toString(), /\nmetrics\.\*\s+7d\s+1\s+-\s+-\s+new\s+limits\n/);

  assert.equal((await runMts(['publish', 'metrics.cpu', '--data', 'x', ...urls])).code, 0);
  const full = await runMts(['publish', 'metrics.cpu', '--data', 'y', ...urls]);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /resource_exhausted: subject metrics\.cpu is full: max_messages = 1 \(retention policy "metrics\.\*"\)/);
  const info = await runMts(['info', 'metrics.cpu', ...urls]);
  assert.match(info.stdout.toString(), /\nfirst:\s+1\n/);
  assert.match(info.stdout.toString(), /\nretention:\s+metrics\.\*: max-age 7d, max-messages 1, discard new\n/);

  const removed = await runMts(['retention', 'rm', 'metrics.*', ...urls]);
  assert.equal(removed.code, 0, removed.stderr);
  const gone = await runMts(['retention', 'rm', 'metrics.*', ...urls]);
  assert.match(gone.stderr, /^mts: not_found: /);
  assert.equal((await runMts(['publish', 'metrics.cpu', '--data', 'y', ...urls])).code, 0, 'without the policy the publish goes through');
  const json = JSON.parse((await runMts(['info', 'metrics.cpu', '--json', ...urls])).stdout.toString()) as {
    retention: { pattern: string };
  };
  assert.equal(json.retention.pattern, '>', 'the default policy is in force');
});

test('mts doctor reports each service in words: reachable, right service, ready, auth, versions', async (t) => {
  const services = await startTestServices(t);
  const healthy = await runMts(['doctor', '--ingress', services.ingress.url, '--egress', services.egress.url]);
  assert.equal(healthy.code, 0, healthy.stderr);
  const report = healthy.stdout.toString();
  assert.match(report, /^ingress  http:\/\/127\.0\.0\.1:\d+\n  ok {7}MiniToolStream \S+ on Node\.js v\d+/);
  assert.match(report, /ok {7}serves the egress RPCs\n {2}ok {7}ready: sqlite ok, folder ok\n/);
  assert.match(report, /ok {7}no authentication \(AUTH_MODE=disabled\)/);
  assert.match(report, /Everything answers as it should\.\n$/);

  const closed = await freePort();
  const swapped = await runMts(['doctor', '--ingress', services.egress.url, '--egress', `http://127.0.0.1:${closed}`]);
  assert.equal(swapped.code, 1);
  assert.match(
    swapped.stdout.toString(),
    /PROBLEM {2}does not serve the ingress RPCs: this is the egress service; give the ingress service with --ingress URL/,
  );
  assert.match(swapped.stdout.toString(), /PROBLEM {2}cannot reach it \(ECONNREFUSED\): is the service running\?/);
  assert.equal(swapped.stderr, 'mts: 2 problems found (see above)\n');
});

test('mts doctor says when a token is needed and whether the given one is accepted', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  const urls = ['--ingress', services.ingress.url, '--egress', services.egress.url];
  const without = await runMts(['doctor', ...urls]);
  assert.equal(without.code, 1);
  assert.match(without.stdout.toString(), /PROBLEM {2}requires a token \(AUTH_MODE=required\): set MTS_TOKEN or give --token/);
  const accepted = await runMts(['doctor', ...urls], undefined, { MTS_TOKEN: await keys.token() });
  assert.equal(accepted.code, 0, accepted.stdout.toString());
  assert.match(accepted.stdout.toString(), /ok {7}your token is accepted \(AUTH_MODE=required\)/);
  const forged = await runMts(['doctor', ...urls, '--token', await keys.sign(keys.foreign, { client_id: 'x' })]);
  assert.match(forged.stdout.toString(), /PROBLEM {2}your token is refused: /);
});
