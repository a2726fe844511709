import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { run } from './keygen-command.js';

const sink = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

test('mts keygen writes a private key only its owner reads and the matching public key', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mts-keygen-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  assert.equal(await run(['--out', dir, '--type', 'ed25519'], { stdout: sink(), stderr: sink() }), 0);
  const privateKey = createPrivateKey(fs.readFileSync(path.join(dir, 'jwt.key')));
  const publicPem = fs.readFileSync(path.join(dir, 'jwt.pub'), 'utf8');
  assert.equal(fs.statSync(path.join(dir, 'jwt.key')).mode & 0o777, 0o600);
  assert.match(publicPem, /^-----BEGIN PUBLIC KEY-----/);
  assert.equal(createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }), publicPem);
  // An existing key is never replaced silently.
  assert.equal(await run(['--out', dir, '--type', 'ed25519'], { stdout: sink(), stderr: sink() }), 1);
  assert.equal(await run(['--out', dir, '--type', 'ed25519', '--force'], { stdout: sink(), stderr: sink() }), 0);
  assert.equal(await run(['--out', dir, '--type', 'dsa'], { stdout: sink(), stderr: sink() }), 2);
  assert.equal(await run([], { stdout: sink(), stderr: sink() }), 2);
});
