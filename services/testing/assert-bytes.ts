import assert from 'node:assert/strict';

/**
 * Asserts two payloads hold the same bytes. Decoded protobuf bytes and
 * Buffers differ in prototype, which deepStrictEqual would report, and it
 * would print every byte of a large payload.
 */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (
    Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(
      Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
    )
  )
    return;
  assert.fail(`${what}: got ${actual.byteLength} bytes, expected ${expected.byteLength} bytes with different content`);
}
