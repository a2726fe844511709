import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import { selfSigned } from '../testing/self-signed.js';
import { startTestServices } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { CONNECTIONS_REFUSED, CONNECTIONS_TIMED_OUT } from './metrics.js';

const run = promisify(execFile);
const buf = path.resolve(import.meta.dirname, '../../node_modules/.bin/buf');

function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.end();
    });
    socket.once('error', reject);
  });
}

test('TLS: gRPC over h2 and HTTP/1.1 share one port, and a renewed certificate is served', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mts-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const first = await selfSigned(dir, 'first');
  const served = { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') };
  fs.copyFileSync(first.cert, served.cert);
  fs.copyFileSync(first.key, served.key);
  const services = await startTestServices(t, {
    env: { TLS_CERT_FILE: served.cert, TLS_KEY_FILE: served.key, TLS_RELOAD_INTERVAL_MS: '50' },
  });
  const url = services.ingress.url;
  assert.match(url, /^https:/);
  const ca = fs.readFileSync(first.cert);

  await t.test('buf curl --protocol grpc (h2 by ALPN)', async () => {
    const { stdout } = await run(buf, [
      'curl',
      '--protocol',
      'grpc',
      '--cacert',
      first.cert,
      '--data',
      '{"subject":"tls.s","data":"AQI="}',
      `${url}/minitoolstream.IngressService/Publish`,
    ]);
    assert.equal(JSON.parse(stdout).sequence, '1');
  });

  await t.test('HTTP/1.1 with node https', async () => {
    const { status, alpn } = await new Promise<{ status: number; alpn: string | false | null }>((resolve, reject) => {
      https
        .get(`${url}/healthz`, { ca, agent: false }, (res) => {
          res.resume();
          resolve({ status: res.statusCode!, alpn: (res.socket as tls.TLSSocket).alpnProtocol });
        })
        .once('error', reject);
    });
    assert.equal(status, 200);
    assert.notEqual(alpn, 'h2');
  });

  await t.test('generated clients: gRPC over h2 and Connect over HTTP/1.1', async () => {
    const grpc = createClient(IngressService, createGrpcTransport({ baseUrl: url, nodeOptions: { ca } }));
    assert.equal((await grpc.publish({ subject: 'tls.s' })).sequence, 2n);
    const connect = createClient(
      IngressService,
      createConnectTransport({ baseUrl: url, httpVersion: '1.1', nodeOptions: { ca, agent: false } }),
    );
    assert.equal((await connect.publish({ subject: 'tls.s' })).sequence, 3n);
  });

  await t.test('a renewed certificate is served without a restart', async () => {
    const port = Number(new URL(url).port);
    const second = await selfSigned(dir, 'second');
    const secondCa = fs.readFileSync(second.cert);
    // Replace both files atomically, as a secret mount update does.
    fs.copyFileSync(second.key, `${served.key}.new`);
    fs.copyFileSync(second.cert, `${served.cert}.new`);
    fs.renameSync(`${served.key}.new`, served.key);
    fs.renameSync(`${served.cert}.new`, served.cert);
    const wanted = new X509Certificate(secondCa).fingerprint256;
    const deadline = Date.now() + 5000;
    let fingerprint = '';
    while (fingerprint !== wanted && Date.now() < deadline) {
      fingerprint = await servedFingerprint(port, Buffer.concat([ca, secondCa]));
      if (fingerprint !== wanted) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(fingerprint, wanted);
  });
});

test('TLS: the caps refuse, and a silent or idle connection is closed on time', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mts-tls-limits-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = await selfSigned(dir, 'limits');
  const services = await startTestServices(t, {
    env: {
      TLS_CERT_FILE: cert,
      TLS_KEY_FILE: key,
      FIRST_BYTES_TIMEOUT_MS: '1000',
      KEEP_ALIVE_TIMEOUT_MS: '1000',
      MAX_CONNECTIONS_PER_ADDRESS: '5',
    },
  });
  const port = Number(new URL(services.ingress.url).port);
  const closed = (socket: net.Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // Silent: no TLS handshake at all.
  const silent = Array.from({ length: 8 }, () => net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.6' }).on('error', () => {}));
  await within(Promise.all(silent.map(closed)), 20_000, 'every silent connection to be refused or timed out');
  // Idle after one request over HTTP/1.1.
  const idle = tls.connect({
    socket: net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.7' }),
    host: '127.0.0.1',
    ca: fs.readFileSync(cert),
    ALPNProtocols: ['http/1.1'],
  });
  let answer = '';
  idle.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
  idle.once('secureConnect', () => idle.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'));
  await within(closed(idle), 20_000, 'the idle HTTP/1.1 connection to be closed');
  assert.match(answer, /^HTTP\/1\.1 200 /);
  const metrics = (await services.ingress.app.inject({ url: '/metrics' })).body;
  assert.match(metrics, new RegExp(`^${CONNECTIONS_REFUSED}\\{limit="per_address"\\} 3$`, 'm'));
  assert.match(metrics, new RegExp(`^${CONNECTIONS_TIMED_OUT}\\{phase="first_bytes"\\} 5$`, 'm'));
  assert.match(metrics, new RegExp(`^${CONNECTIONS_TIMED_OUT}\\{phase="keep_alive"\\} 1$`, 'm'));
});
