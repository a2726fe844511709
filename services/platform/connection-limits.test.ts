import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { capturedLogger } from '../testing/captured-logger.js';
import { eventually } from '../testing/conformance-harness.js';
import { describeProbes, startProbing } from '../testing/health-probe.js';
import { metricValue } from '../testing/metric-value.js';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { CONNECTIONS_REFUSED, CONNECTIONS_TIMED_OUT } from './metrics.js';

const run = promisify(execFile);
// Short timeouts so the test waits seconds, not minutes; the defaults are in config.ts.
const limits = {
  FIRST_BYTES_TIMEOUT_MS: '1000',
  HEADERS_TIMEOUT_MS: '1500',
  KEEP_ALIVE_TIMEOUT_MS: '1000',
  HTTP2_IDLE_TIMEOUT_MS: '2000',
};
const perKind = 40;

/** Connects from `localAddress`; resolves with the socket and what it received, closed or not. */
function connect(url: string, localAddress: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port), localAddress });
  let received = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  const openedAt = performance.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - openedAt)));
  return { socket, closed, received: () => received };
}

/** Sockets of the server's port in `states` whose peer is `address`, as `ss` lists them. */
async function serverSockets(port: string, address: string, states: string[]): Promise<string[]> {
  const filter = ['(', 'sport', '=', `:${port}`, 'and', 'dst', address, ')'];
  const { stdout } = await run('ss', ['-Htn', ...states.flatMap((state) => ['state', state]), ...filter]);
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

test('idle, slow and pre-protocol connections are closed on time while probes and live streams go on', async (t) => {
  const services = await startTestServices(t, { env: limits });
  const url = services.egress.url;
  // A live Subscribe (its own HTTP/2 session) must outlive every idle timeout.
  const subject = 'abuse.live';
  const live = new AbortController();
  t.after(() => live.abort());
  const firstNotification = egressClient(services)
    .subscribe({ subject, startSequence: 1n }, { signal: live.signal })
    [Symbol.asyncIterator]()
    .next();

  const stopProbing = startProbing(url, '127.0.0.2');
  const silent = Array.from({ length: perKind }, () => connect(url, '127.0.0.1'));
  const partialPreface = Array.from({ length: perKind }, () => {
    const connection = connect(url, '127.0.0.1');
    connection.socket.write('PRI * HTTP/2.0\r\n');
    return connection;
  });
  const slowLoris = Array.from({ length: perKind }, () => {
    const connection = connect(url, '127.0.0.1');
    connection.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n');
    const trickle = setInterval(() => connection.socket.write('x-slow: 1\r\n'), 200);
    connection.socket.once('close', () => clearInterval(trickle));
    return connection;
  });
  const keepAlive = Array.from({ length: perKind }, () => {
    const connection = connect(url, '127.0.0.1');
    connection.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    return connection;
  });
  const idleSessions = Array.from({ length: perKind }, () => {
    const session = http2.connect(url, { localAddress: '127.0.0.1' } as http2.SecureClientSessionOptions);
    session.on('error', () => {});
    const openedAt = performance.now();
    return new Promise<number>((resolve) => session.once('close', () => resolve(performance.now() - openedAt)));
  });

  const all = { silent, partialPreface, slowLoris, keepAlive };
  const closedAfter: Record<string, number[]> = {};
  for (const [kind, connections] of Object.entries(all)) {
    closedAfter[kind] = await within(
      Promise.all(connections.map((connection) => connection.closed)),
      30_000,
      `every ${kind} connection to be closed`,
    );
  }
  closedAfter.idleHttp2 = await within(Promise.all(idleSessions), 30_000, 'every idle HTTP/2 session to be closed');
  const probes = await stopProbing();

  for (const connection of slowLoris) assert.match(connection.received(), /^HTTP\/1\.1 408 /);
  for (const connection of keepAlive) assert.match(connection.received(), /^HTTP\/1\.1 200 /);
  assert.deepEqual(probes.failures, [], 'every probe was served');
  assert.ok(probes.served > 0);
  for (const [phase, atLeast] of [
    ['first_bytes', 2 * perKind],
    ['headers', perKind],
    ['keep_alive', perKind],
    ['http2_idle', perKind],
  ] as const) {
    assert.ok((await metricValue(url, CONNECTIONS_TIMED_OUT, { phase })) >= atLeast, phase);
  }

  // The live stream, opened before every idle timeout expired, still hears of a commit.
  const { sequence } = await ingressClient(services).publish({ subject, data: new Uint8Array([1]) });
  assert.equal((await within(firstNotification, 30_000, 'the live stream to be notified')).value?.sequence, sequence);

  for (const [kind, times] of Object.entries(closedAfter)) {
    times.sort((a, b) => a - b);
    t.diagnostic(`${perKind} ${kind}: closed after ${times[0]!.toFixed(0)}-${times.at(-1)!.toFixed(0)} ms`);
  }
  t.diagnostic(describeProbes(probes));
});

test('malformed HTTP/1.1 is answered 400 before the connection closes', async (t) => {
  const services = await startTestServices(t);
  const connection = connect(services.egress.url, '127.0.0.1');
  connection.socket.write('NOT HTTP AT ALL\r\n\r\n');
  await within(connection.closed, 10_000, 'the connection to close');
  assert.match(connection.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
});

test('after a rapid-reset burst no server socket stays open', async (t) => {
  const services = await startTestServices(t);
  const url = services.egress.url;
  const port = new URL(url).port;
  const stopProbing = startProbing(url, '127.0.0.2');
  const attacker = '127.0.0.3';
  const sessions = Array.from({ length: 4 }, () => {
    const session = http2.connect(url, { localAddress: attacker } as http2.SecureClientSessionOptions);
    session.on('error', () => {});
    return session;
  });
  for (const session of sessions) {
    for (let index = 0; index < 2000 && !session.closed && !session.destroyed; index++) {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/minitoolstream.EgressService/Fetch',
        'content-type': 'application/grpc',
      });
      stream.on('error', () => {});
      stream.write(Buffer.alloc(1024));
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }
  const heldAfterBurst = (await serverSockets(port, attacker, ['established', 'close-wait'])).length;
  await eventually(async () => (await serverSockets(port, attacker, ['established', 'close-wait'])).length === 0, 30_000);
  const probes = await stopProbing();
  assert.deepEqual(probes.failures, [], 'every probe was served');
  t.diagnostic(`rapid reset: ${heldAfterBurst} server sockets right after the burst, 0 later; ${describeProbes(probes)}`);
});

test('the caps refuse connections beyond them and say so once', async (t) => {
  const { logger, lines } = capturedLogger('warn');
  const services = await startTestServices(t, { logger, env: { MAX_CONNECTIONS: '30', MAX_CONNECTIONS_PER_ADDRESS: '20' } });
  const url = services.egress.url;
  const fromOne = Array.from({ length: 25 }, () => connect(url, '127.0.0.4'));
  await eventually(async () => fromOne.filter((connection) => connection.socket.destroyed).length === 5, 10_000);
  const fromAnother = Array.from({ length: 15 }, () => connect(url, '127.0.0.5'));
  // 20 + 10 are open: the other address meets the total cap; /metrics itself needs a slot.
  await eventually(async () => fromAnother.filter((connection) => connection.socket.destroyed).length === 5, 10_000);
  for (const connection of [...fromOne, ...fromAnother]) connection.socket.destroy();
  // The server frees the slots as it sees the sockets close.
  await eventually(
    () =>
      fetch(`${url}/healthz`).then(
        (response) => response.ok,
        () => false,
      ),
    10_000,
  );
  assert.equal(await metricValue(url, CONNECTIONS_REFUSED, { limit: 'per_address' }), 5);
  // At least: a /healthz above may have met the cap before the slots were freed.
  assert.ok((await metricValue(url, CONNECTIONS_REFUSED, { limit: 'total' })) >= 5);
  const warnings = lines.filter((line) => line.includes('connections refused'));
  assert.equal(warnings.length, 1, 'one line per interval');
  assert.match(warnings[0]!, /MAX_CONNECTIONS_PER_ADDRESS=20 reached/);
});
