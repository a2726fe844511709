import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines } from './stdin-lines.js';

async function collect(chunks: string[]): Promise<string[]> {
  const input = (async function* () {
    for (const chunk of chunks) yield Buffer.from(chunk);
  })();
  const result: string[] = [];
  for await (const line of lines(input)) result.push(line.toString());
  return result;
}

test('lines split on newlines across chunk boundaries, drop \\r before \\n, keep empty lines and a last line without newline', async () => {
  assert.deepEqual(await collect(['on', 'e\ntw', 'o\r', '\n\nthree\n', 'four']), ['one', 'two', '', 'three', 'four']);
  assert.deepEqual(await collect(['a\n']), ['a']);
  assert.deepEqual(await collect([]), []);
  assert.deepEqual(await collect(['\n']), ['']);
});
