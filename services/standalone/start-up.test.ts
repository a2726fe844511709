import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { before, test, type TestContext } from 'node:test';
import { buildOnce, runMts, runMainToExit, startStandalone } from '../testing/mts-process.js';

before(() => buildOnce());

async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mts-start-up-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A port this test process listens on (so it is taken, by node with this pid) until the test ends. */
async function holdPort(t: TestContext): Promise<number> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  return (holder.address() as { port: number }).port;
}

test('npm start with its port taken prints one line naming the port, INGRESS_PORT and the holder, and exits non-zero', async (t) => {
  const port = await holdPort(t);

  const result = await runMainToExit({ MTS_DATA_DIR: await dataDir(t), INGRESS_PORT: String(port), EGRESS_PORT: '0' });
  assert.notEqual(result.code, 0);
  assert.equal(
    result.stderr,
    `minitoolstream: ingress port ${port} on 127.0.0.1 is already in use by node (pid ${process.pid}); set INGRESS_PORT to another port\n`,
  );
});

test('a service started on its own names SERVER_PORT for its taken port', async (t) => {
  const port = await holdPort(t);
  const env = { STORAGE: 'embedded', MTS_DATA_DIR: await dataDir(t), SERVER_HOST: '127.0.0.1', SERVER_PORT: String(port) };
  const result = await runMainToExit(env, 'dist/services/egress/main.js');
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    new RegExp(
      `^minitoolstream: egress port ${port} on 127\\.0\\.0\\.1 is already in use by node \\(pid ${process.pid}\\); set SERVER_PORT to another port\n$`,
    ),
  );
});

test('npm start blames the variable it read: INGRESS_PORT=abc names INGRESS_PORT', async (t) => {
  const result = await runMainToExit({ MTS_DATA_DIR: await dataDir(t), INGRESS_PORT: 'abc' });
  assert.equal(result.code, 2);
  assert.equal(result.stderr, 'minitoolstream: invalid configuration: INGRESS_PORT: "abc" is not an integer from 0 to 65535\n');
});

test('npm start listens on loopback unless SERVER_HOST says otherwise', async (t) => {
  const dir = await dataDir(t);
  const local = await startStandalone(t, { MTS_DATA_DIR: dir });
  assert.match(local.ingress, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(local.egress, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await local.stop(), 0);

  const open = await startStandalone(t, { MTS_DATA_DIR: dir, SERVER_HOST: '0.0.0.0' });
  assert.match(open.ingress, /^http:\/\/0\.0\.0\.0:\d+$/);
  assert.equal(await open.stop(), 0);
});

test('npm start logs readable text, not JSON, when standard output is a terminal', async (t) => {
  // `script` runs the process on a pseudo-terminal, as a person's shell does.
  const command = `exec "${process.execPath}" dist/services/standalone/main.js`;
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: { ...process.env, LOG_FORMAT: '', MTS_DATA_DIR: await dataDir(t), INGRESS_PORT: '0', EGRESS_PORT: '0', NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'ignore'],
    detached: true,
  });
  t.after(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  let output = '';
  const closed = once(child, 'close');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/egress listening/.test(output)) resolve();
    });
    closed.then(() => reject(new Error(`exited before listening: ${output}`)), reject);
  });
  assert.match(output, /INFO.*ingress listening/);
  assert.doesNotMatch(output, /^\{"level"/m);
  process.kill(-child.pid!, 'SIGTERM');
  await closed;
});

test('a message over MAX_MESSAGE_BYTES is refused naming MAX_MESSAGE_BYTES and its value, and the server logs it', async (t) => {
  const server = await startStandalone(t, { MTS_DATA_DIR: await dataDir(t), MAX_MESSAGE_BYTES: String(10 * 1024 * 1024) });
  const payload = Buffer.alloc(12 * 1024 * 1024, 1);
  for (const protocol of ['grpc', 'connect']) {
    const refused = await runMts(['publish', 'big.one', '--protocol', protocol, '--ingress', server.ingress], payload);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^mts: resource_exhausted: message of \d+ bytes is larger than MAX_MESSAGE_BYTES \(10485760 bytes\) allows\n$/,
    );
  }
  const refusals = () => server.logs().filter((entry) => entry.msg === 'request refused: message larger than MAX_MESSAGE_BYTES');
  // The log line may still be on its way through the pipe.
  for (const deadline = Date.now() + 10_000; refusals().length < 2 && Date.now() < deadline;) await setTimeout(20);
  const logged = refusals();
  assert.equal(logged.length, 2);
  assert.equal(logged[0]!.maxMessageBytes, 10 * 1024 * 1024);
  assert.equal(await server.stop(), 0);
});

test('each port of npm start serves both services, so one MTS_URL (or --url) is enough', async (t) => {
  const server = await startStandalone(t, { MTS_DATA_DIR: await dataDir(t) });
  for (const [index, url] of [server.ingress, server.egress].entries()) {
    const published = await runMts(['publish', 'one.url', '--data', `via ${index}`], undefined, { MTS_URL: url });
    assert.equal(published.stdout.toString(), `${index + 1}\n`, published.stderr);
    const fetched = await runMts(['fetch', 'one.url', '--durable', `d${index}`, '--json', '--url', url]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(fetched.stdout.toString().trim().split('\n').length, index + 1);
  }
  assert.equal(await server.stop(), 0);
});
