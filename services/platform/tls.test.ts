import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
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
