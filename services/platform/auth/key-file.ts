import { createPublicKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { calculateJwkThumbprint, exportJWK } from 'jose';

/** A verification key with the `kid` that `mts token` puts in its tokens (the RFC 7638 thumbprint). */
export interface PublicKey {
  kid: string;
  key: KeyObject;
}

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * The public keys in a PEM file: SPKI (`PUBLIC KEY`), PKCS#1 (`RSA PUBLIC
 * KEY`) or certificates; several during a key rotation. RSA (2048 bits or
 * more), EC P-256 and Ed25519. A private key is refused: the services only
 * verify. Throws an Error saying what is wrong, never echoing key material.
 */
export async function readPublicKeys(path: string): Promise<PublicKey[]> {
  const text = await fs.promises.readFile(path, 'utf8');
  const blocks = [...text.matchAll(pemBlock)];
  if (blocks.length === 0) throw new Error('holds no PEM block');
  const keys: PublicKey[] = [];
  for (const [block, label] of blocks) {
    if (label!.includes('PRIVATE')) throw new Error('holds a private key; give the services public keys only');
    if (label !== 'PUBLIC KEY' && label !== 'RSA PUBLIC KEY' && label !== 'CERTIFICATE') {
      throw new Error(`holds a "${label}" block, not a public key or certificate`);
    }
    const key = createPublicKey(block);
    checkKeyType(key);
    keys.push({ kid: await calculateJwkThumbprint(await exportJWK(key)), key });
  }
  return keys;
}

function checkKeyType(key: KeyObject): void {
  const { asymmetricKeyType: type, asymmetricKeyDetails: details } = key;
  if (type === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return;
  if (type === 'ec' && details?.namedCurve === 'prime256v1') return;
  if (type === 'ed25519') return;
  throw new Error(`holds an unsupported key (${type ?? 'unknown'}); use RSA >= 2048 bits, EC P-256 or Ed25519`);
}

/** Whether `key` can verify a token signed with `alg`. */
export function keyFitsAlgorithm(key: KeyObject, alg: string): boolean {
  switch (alg) {
    case 'RS256':
      return key.asymmetricKeyType === 'rsa';
    case 'ES256':
      return key.asymmetricKeyType === 'ec';
    case 'EdDSA':
    case 'Ed25519':
      return key.asymmetricKeyType === 'ed25519';
    default:
      return false;
  }
}
