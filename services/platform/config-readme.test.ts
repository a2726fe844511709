import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { loadConfig } from './config.js';

/** Every variable loadConfig looks at, over environments that reach each optional branch. */
function variablesRead(): Set<string> {
  const read = new Set<string>();
  const recording = (values: Record<string, string>) =>
    new Proxy(values, {
      get(target, name) {
        if (typeof name === 'string') read.add(name);
        return target[name as string];
      },
    });
  loadConfig('ingress', recording({ STORAGE: 'embedded' }));
  loadConfig('egress', recording({ STORAGE: 'embedded', TLS_CERT_FILE: 'cert.pem', TLS_KEY_FILE: 'key.pem' }));
  return read;
}

test("the README's configuration table lists every variable the services read, and no other", async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration'));
  const table = section.split('\n').filter((line) => /^\| `[A-Z]/.test(line));
  const documented = new Set(table.flatMap((line) => [...line.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!)));
  // npm start runs both services in one process, each on its own port variable.
  const expected = new Set([...variablesRead(), 'INGRESS_PORT', 'EGRESS_PORT']);
  assert.deepEqual([...documented].sort(), [...expected].sort());
});
