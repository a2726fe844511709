import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { tarantoolBackend } from '../testing/tarantool-backend.js';
import { egressClient, ingressClient, startTestServices } from '../testing/test-services.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const allBytes = Uint8Array.from({ length: 256 }, (_, value) => value);

/** `length` bytes cycling through all 256 values. */
function everyByte(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => index & 0xff);
}

const cases: { name: string; data: Uint8Array | undefined; inline: boolean }[] = [
  { name: 'no data field', data: undefined, inline: true },
  { name: '0 bytes', data: new Uint8Array(0), inline: true },
  { name: 'all 256 byte values', data: allBytes, inline: true },
  { name: 'exactly the inline limit', data: everyByte(64 * KiB), inline: true },
  { name: 'one byte over the inline limit', data: everyByte(64 * KiB + 1), inline: false },
  { name: '10 MiB', data: everyByte(10 * MiB), inline: false },
];

test('payloads round-trip byte-exact through Publish and Fetch on Tarantool + S3', async (t) => {
  const services = await startTestServices(t, { backend: tarantoolBackend });
  const ingress = ingressClient(services);
  const egress = egressClient(services);
  const subject = 'payloads.exact';

  for (const [index, { name, data, inline }] of cases.entries()) {
    const startedAt = performance.now();
    const published = await ingress.publish({ subject, ...(data ? { data } : {}), headers: { 'content-type': 'application/x-test' } });
    const publishMs = performance.now() - startedAt;
    assert.equal(published.sequence, BigInt(index + 1), name);
    assert.equal(published.objectName === '', inline, `${name}: stored ${inline ? 'inline' : 'as an object'}`);

    const fetchStartedAt = performance.now();
    const fetched = [];
    for await (const message of egress.fetch({ subject, durableName: 'exact', batchSize: 1 })) fetched.push(message);
    const fetchMs = performance.now() - fetchStartedAt;
    assert.equal(fetched.length, 1, name);
    const [message] = fetched;
    const expected = data ?? new Uint8Array(0);
    assertSameBytes(message!.data, expected, name);
    assert.equal(message!.headers['data-size'], String(expected.length), name);
    assert.equal(message!.headers['content-type'], 'application/x-test', name);
    await egress.ackMessage({ subject, durableName: 'exact', sequence: message!.sequence });
    if (expected.length >= MiB) t.diagnostic(`${name}: publish ${publishMs.toFixed(0)} ms, fetch ${fetchMs.toFixed(0)} ms`);
  }
});
