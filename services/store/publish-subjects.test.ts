import assert from 'node:assert/strict';
import { forEachBackend } from '../testing/conformance-harness.js';

forEachBackend('subjects named like object properties count like any other', async (_t, open) => {
  const { store } = await open();
  const subjects = ['__proto__', 'constructor', '__proto__', 'toString', 'constructor'];
  const results = await store.publish(subjects.map((subject) => ({ subject, data: new Uint8Array([1]), headers: {} })));
  assert.deepEqual(
    results.map((result) => result.sequence),
    [1n, 1n, 2n, 1n, 2n],
  );
  assert.equal(await store.lastSequence('__proto__'), 2n);
});
