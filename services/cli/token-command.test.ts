import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { jwtVerify } from 'jose';
import { ingressClient, startTestServices } from '../testing/test-services.js';
import { generateKeyPairPem } from './keygen-command.js';
import { run } from './token-command.js';

function capture() {
  let text = '';
  return {
    stream: new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }),
    text: () => text,
  };
}

test('mts token mints a token the services accept, with the asked claims', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mts-token-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { privateKey, publicKey } = generateKeyPairPem('ec');
  fs.writeFileSync(path.join(dir, 'jwt.key'), privateKey);
  const stdout = capture();
  const stderr = capture();
  const code = await run(
    ['--key', path.join(dir, 'jwt.key'), '--client-id', 'svc', '--subjects', 'a.*,b', '--permissions', 'publish', '--ttl', '15m'],
    { stdout: stdout.stream, stderr: stderr.stream },
  );
  assert.equal(code, 0, stderr.text());
  const { payload, protectedHeader } = await jwtVerify(stdout.text().trim(), createPublicKey(publicKey), { issuer: 'minitoolstream' });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(payload['client_id'], 'svc');
  assert.deepEqual(payload['allowed_subjects'], ['a.*', 'b']);
  assert.deepEqual(payload['permissions'], ['publish']);
  assert.equal(payload.exp! - payload.iat!, 900);

  fs.writeFileSync(path.join(dir, 'jwt.pub'), publicKey);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: path.join(dir, 'jwt.pub') } });
  const headers = { authorization: `Bearer ${stdout.text().trim()}` };
  const ingress = ingressClient(services);
  assert.equal((await ingress.publish({ subject: 'a.x', data: new Uint8Array([1]) }, { headers })).sequence, 1n);
  await assert.rejects(ingress.publish({ subject: 'c', data: new Uint8Array([1]) }, { headers }), (error) => {
    return ConnectError.from(error).code === Code.PermissionDenied;
  });

  const usage = capture();
  assert.equal(await run(['--client-id', 'svc'], { stdout: capture().stream, stderr: usage.stream }), 2);
  assert.match(usage.text(), /--key is required/);
  assert.equal(
    await run(['--key', path.join(dir, 'jwt.key'), '--client-id', 'svc', '--ttl', 'soon'], {
      stdout: capture().stream,
      stderr: capture().stream,
    }),
    2,
  );
  const help = capture();
  assert.equal(await run(['--help'], { stdout: help.stream, stderr: capture().stream }), 0);
  assert.match(help.text(), /Usage: mts token/);
});
