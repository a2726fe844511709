import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { EgressService } from '../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../gen/minitoolstream/ingress_pb.js';
import { eventually } from '../services/testing/conformance-harness.js';
import { waitForReadyz } from '../services/testing/service-process.js';
import { freePort } from '../services/testing/free-port.js';
import { transportFor } from '../services/testing/test-services.js';

const script = fileURLToPath(new URL('./local-stack.sh', import.meta.url));
const host = '127.0.0.1';

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
    socket.once('connect', () => socket.destroy());
  });
}

test('--help explains the script', async () => {
  const child = spawn('bash', [script, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0);
  assert.match(out, /Usage: local-stack\.sh/);
  assert.match(out, /INGRESS_PORT/);
});

test('local-stack.sh runs the whole stack on the given ports and stops it all on SIGINT', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mts-local-stack-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const ports = { TARANTOOL_PORT: 0, S3_PORT: 0, INGRESS_PORT: 0, EGRESS_PORT: 0 };
  for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort(host);
  const child = spawn('bash', [script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      LOCAL_STACK_DIR: dataDir,
      LOG_LEVEL: 'warn',
    },
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGINT');
    await exited;
  });

  const ingressUrl = `http://${host}:${ports.INGRESS_PORT}`;
  const egressUrl = `http://${host}:${ports.EGRESS_PORT}`;
  await Promise.race([
    Promise.all([waitForReadyz(ingressUrl, 200, 60_000), waitForReadyz(egressUrl, 200, 60_000)]),
    exited.then((code) => assert.fail(`local-stack.sh exited with ${code}:\n${output}`)),
  ]);
  const { sequence } = await createClient(IngressService, transportFor(ingressUrl)).publish({
    subject: 'local.stack',
    data: new Uint8Array([7]),
  });
  assert.equal(sequence, 1n);
  assert.equal((await createClient(EgressService, transportFor(egressUrl)).getLastSequence({ subject: 'local.stack' })).lastSequence, 1n);
  // The banner is printed once both services listen; wait for it rather than for a while.
  await eventually(async () => new RegExp(`ingress +${ingressUrl}`).test(output), 30_000);

  child.kill('SIGINT');
  assert.equal(await exited, 130, output);
  assert.match(output, /stopped/);
  for (const [name, port] of Object.entries(ports)) assert.equal(await accepts(port), false, `${name} ${port} still accepts connections`);
});

test('local-stack.sh fails, naming the log, when its egress cannot bind a port another program answers on', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'mts-local-stack-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  // Another program on the egress port that answers /readyz as a healthy service would.
  const impostor = createServer((_request, response) => response.end('ok'));
  await new Promise<void>((resolve) => impostor.listen(0, host, resolve));
  t.after(() => impostor.close());
  const ports = { TARANTOOL_PORT: await freePort(host), S3_PORT: await freePort(host), INGRESS_PORT: await freePort(host) };
  const child = spawn('bash', [script], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)])),
      EGRESS_PORT: String((impostor.address() as { port: number }).port),
      LOCAL_STACK_DIR: dataDir,
      LOG_LEVEL: 'warn',
    },
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  assert.equal(code, 1, output);
  assert.match(output, /local-stack: egress exited; see .*egress\.log/);
  assert.doesNotMatch(output, /ready/);
  for (const [name, port] of Object.entries(ports)) assert.equal(await accepts(port), false, `${name} ${port} still accepts connections`);
});
