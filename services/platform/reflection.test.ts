import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bufCurl } from '../testing/buf-curl.js';
import { startTestServices } from '../testing/test-services.js';

const common = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

test('buf curl lists every served service through reflection', async (t) => {
  const services = await startTestServices(t);
  const cases = [
    { url: services.ingress.url, own: ['IngressService', 'minitoolstream.IngressService'] },
    { url: services.egress.url, own: ['EgressService', 'minitoolstream.EgressService'] },
  ];
  for (const { url, own } of cases) {
    const listed = await bufCurl(['--protocol', 'grpc', '--http2-prior-knowledge', '--list-services', url]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.trim().split('\n').sort(), [...own, ...common].sort());
  }
});

test('both reflection versions answer', async (t) => {
  const services = await startTestServices(t);
  for (const version of ['grpc-v1', 'grpc-v1alpha']) {
    const methods = await bufCurl(['--reflect-protocol', version, '--list-methods', services.egress.url]);
    assert.equal(methods.code, 0, methods.stderr);
    for (const method of ['Subscribe', 'Fetch', 'GetLastSequence', 'AckMessage']) {
      assert.match(methods.stdout, new RegExp(`^minitoolstream\\.EgressService/${method}$`, 'm'), version);
    }
  }
});
