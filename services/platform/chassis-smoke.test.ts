import assert from 'node:assert/strict';
import { test } from 'node:test';
import { egressClient, ingressClient, startTestServices, type Protocol } from '../testing/test-services.js';

for (const protocol of ['grpc', 'grpcweb', 'connect'] as Protocol[]) {
  test(`publish then fetch over ${protocol}`, async (t) => {
    const services = await startTestServices(t);
    const published = await ingressClient(services, protocol).publish({ subject: 'smoke.test', data: new Uint8Array([1, 2, 3]) });
    assert.equal(published.sequence, 1n);
    const fetched = [];
    for await (const message of egressClient(services, protocol).fetch({ subject: 'smoke.test', durableName: 'd' })) fetched.push(message);
    assert.deepEqual(fetched.map((m) => [m.sequence, [...m.data]]), [[1n, [1, 2, 3]]]);
  });
}
