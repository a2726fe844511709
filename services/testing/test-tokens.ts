import { createPrivateKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { SignJWT, type JWTPayload } from 'jose';
import { generateKeyPairPem, type KeyType } from '../cli/keygen-command.js';
import { mintToken } from '../cli/token-command.js';

export interface TestKeys {
  /** PEM file of the trusted public keys (an RSA and an EC key, as during a rotation). */
  publicKeyFile: string;
  rsa: KeyObject;
  ec: KeyObject;
  /** A key the services do not trust. */
  foreign: KeyObject;
  /** Public PEM of the RSA key: what an HS256 forgery would use as its secret. */
  rsaPublicPem: string;
  /** A valid token (RSA, 1 h, all permissions on every subject) with `overrides`. */
  token(overrides?: Partial<Parameters<typeof mintToken>[0]>): Promise<string>;
  /** A token with raw claims and header, for forgeries and odd shapes. */
  sign(key: KeyObject, claims: JWTPayload, alg?: string): Promise<string>;
}

/** Fresh key pairs in a temp folder removed after the test. */
export function createTestKeys(t: TestContext): TestKeys {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mts-keys-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pair = (type: KeyType) => generateKeyPairPem(type);
  const rsa = pair('rsa');
  const ec = pair('ec');
  const publicKeyFile = path.join(dir, 'jwt.pub');
  fs.writeFileSync(publicKeyFile, rsa.publicKey + ec.publicKey);
  const rsaKey = createPrivateKey(rsa.privateKey);
  return {
    publicKeyFile,
    rsa: rsaKey,
    ec: createPrivateKey(ec.privateKey),
    foreign: createPrivateKey(pair('rsa').privateKey),
    rsaPublicPem: rsa.publicKey,
    token: (overrides = {}) =>
      mintToken({
        privateKey: rsaKey,
        clientId: 'client-a',
        subjects: ['*'],
        permissions: ['*'],
        ttlSeconds: 3600,
        issuer: 'minitoolstream',
        ...overrides,
      }),
    sign: (key, claims, alg = 'RS256') => new SignJWT(claims).setProtectedHeader({ alg }).sign(key),
  };
}
