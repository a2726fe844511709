import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bufCurl } from '../testing/buf-curl.js';
import { egressClient, ingressClient, startTestServices, type Protocol } from '../testing/test-services.js';

const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];

/** One HTTP/1.1 request (no keep-alive), as curl or a kubelet sends it. */
function http1(url: string, init: { method: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const request = http.request(url, { method: init.method, headers: init.headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end(init.body);
  });
}

for (const protocol of protocols) {
  test(`generated clients publish then fetch over ${protocol}`, async (t) => {
    const services = await startTestServices(t);
    const published = await ingressClient(services, protocol).publish({ subject: 'smoke.test', data: new Uint8Array([1, 2, 3]) });
    assert.equal(published.sequence, 1n);
    const fetched = [];
    for await (const message of egressClient(services, protocol).fetch({ subject: 'smoke.test', durableName: 'd' })) fetched.push(message);
    assert.deepEqual(
      fetched.map((m) => [m.sequence, [...m.data]]),
      [[1n, [1, 2, 3]]],
    );
  });
}

test('buf curl with reflection publishes over gRPC, gRPC-Web and Connect, and fetches over gRPC', async (t) => {
  const services = await startTestServices(t);
  for (const [index, protocol] of protocols.entries()) {
    const args = ['--protocol', protocol, ...(protocol === 'grpc' ? ['--http2-prior-knowledge'] : [])];
    const published = await bufCurl([
      ...args,
      '-d',
      '{"subject":"buf.curl","data":"AAH/"}',
      `${services.ingress.url}/minitoolstream.IngressService/Publish`,
    ]);
    assert.equal(published.code, 0, `${protocol}: ${published.stderr}`);
    assert.equal(JSON.parse(published.stdout).sequence, String(index + 1), protocol);
  }
  const fetched = await bufCurl([
    '--protocol',
    'grpc',
    '-d',
    '{"subject":"buf.curl","durableName":"d","batchSize":2}',
    `${services.egress.url}/minitoolstream.EgressService/Fetch`,
  ]);
  assert.equal(fetched.code, 0, fetched.stderr);
  // One JSON document per streamed message.
  const messages = fetched.stdout.split(/\n(?=\{)/).map((text) => JSON.parse(text) as { sequence: string; data: string });
  assert.deepEqual(
    messages.map((m) => [m.sequence, m.data]),
    [
      ['1', 'AAH/'],
      ['2', 'AAH/'],
    ],
  );
});

test('buf curl: a request body that does not decode is invalid_argument over gRPC, gRPC-Web and Connect', async (t) => {
  const services = await startTestServices(t);
  // Our Publish with `subject` retyped to bytes: buf encodes a subject that is not UTF-8.
  const schema = mkdtempSync(join(tmpdir(), 'mts-undecodable-'));
  t.after(() => rmSync(schema, { recursive: true, force: true }));
  writeFileSync(
    join(schema, 'undecodable.proto'),
    `syntax = "proto3";
package minitoolstream;
message PublishRequest { bytes subject = 1; }
message PublishResponse {}
service IngressService { rpc Publish(PublishRequest) returns (PublishResponse); }
`,
  );
  for (const protocol of protocols) {
    const answer = await bufCurl([
      '--protocol',
      protocol,
      ...(protocol === 'grpc' ? ['--http2-prior-knowledge'] : []),
      '--schema',
      join(schema, 'undecodable.proto'),
      '-d',
      `{"subject":"${Buffer.from([0xff]).toString('base64')}"}`,
      `${services.ingress.url}/minitoolstream.IngressService/Publish`,
    ]);
    assert.notEqual(answer.code, 0, protocol);
    assert.match(answer.stderr, /"code": "invalid_argument"/, `${protocol}: ${answer.stderr}`);
  }
});

test('the package-less names of the deployment guide work', async (t) => {
  const services = await startTestServices(t);
  const published = await bufCurl([
    '--protocol',
    'grpc',
    '-d',
    '{"subject":"guide.test"}',
    `${services.ingress.url}/IngressService/Publish`,
  ]);
  assert.equal(published.code, 0, published.stderr);
  assert.equal(JSON.parse(published.stdout).sequence, '1');
  const last = await bufCurl(['-d', '{"subject":"guide.test"}', `${services.egress.url}/EgressService/GetLastSequence`]);
  assert.equal(last.code, 0, last.stderr);
  assert.equal(JSON.parse(last.stdout).lastSequence, '1');
});

test('a plain HTTP/1.1 JSON request is a Connect unary call', async (t) => {
  const services = await startTestServices(t);
  const response = await http1(`${services.ingress.url}/minitoolstream.IngressService/Publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ subject: 'plain.json', data: Buffer.from('hi').toString('base64') }),
  });
  assert.equal(response.status, 200, response.body);
  assert.deepEqual(JSON.parse(response.body), { sequence: '1' });
  const last = await http1(`${services.egress.url}/minitoolstream.EgressService/GetLastSequence`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"subject":"plain.json"}',
  });
  assert.deepEqual(JSON.parse(last.body), { lastSequence: '1' });
});

test('a browser preflight for a Connect call is allowed with Connect headers and methods', async (t) => {
  const services = await startTestServices(t);
  const response = await http1(`${services.ingress.url}/minitoolstream.IngressService/Publish`, {
    method: 'OPTIONS',
    headers: {
      origin: 'http://dashboard.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,connect-protocol-version,connect-timeout-ms,authorization',
    },
  });
  assert.equal(response.status, 204);
  assert.equal(response.headers['access-control-allow-origin'], 'http://dashboard.example');
  const methods = String(response.headers['access-control-allow-methods']).split(/,\s*/);
  assert.ok(methods.includes('POST') && methods.includes('GET'), String(methods));
  const allowed = String(response.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
  for (const header of ['content-type', 'connect-protocol-version', 'connect-timeout-ms', 'x-grpc-web', 'grpc-timeout', 'authorization']) {
    assert.ok(allowed.includes(header), `${header} not in ${allowed.join(', ')}`);
  }
  const exposed = String(response.headers['access-control-expose-headers']).toLowerCase();
  assert.match(exposed, /grpc-status/);
  assert.match(exposed, /grpc-message/);
});
