import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';

const usage = `Usage: mts token --key FILE --client-id ID [options]

Mints a JWT for development from a private key (see \`mts keygen\`). The token
goes to stdout; send it as "authorization: Bearer <token>".

  --key FILE            PEM private key (RSA -> RS256, EC P-256 -> ES256, Ed25519 -> EdDSA)
  --client-id ID        client_id claim; durable consumers belong to it
  --subjects LIST       comma-separated allowed_subjects patterns: "*" all, "a.*" a and below,
                        else exact (default "*")
  --permissions LIST    comma-separated: publish, subscribe, fetch, admin (reset consumers) or *
                        (default publish,subscribe,fetch)
  --ttl DURATION        lifetime: 90s, 15m, 1h, 7d (default 1h)
  --issuer ISS          iss claim; must equal the services' JWT_ISSUER (default minitoolstream)
  --audience AUD        aud claim; needed when the services set JWT_AUDIENCE
  -h, --help            this text
`;

export interface MintOptions {
  privateKey: KeyObject;
  clientId: string;
  subjects: string[];
  permissions: string[];
  ttlSeconds: number;
  issuer: string;
  audience?: string | undefined;
}

/**
 * A signed token with the claims the services read. Its `kid` is the RFC 7638
 * thumbprint of the public key, which is how the services name keys from a
 * PEM file, so a rotation file with several keys finds the right one at once.
 */
export async function mintToken(options: MintOptions): Promise<string> {
  const publicKey = createPublicKey(options.privateKey);
  const jwt = new SignJWT({ client_id: options.clientId, allowed_subjects: options.subjects, permissions: options.permissions })
    .setProtectedHeader({ alg: algorithmOf(options.privateKey), typ: 'JWT', kid: await calculateJwkThumbprint(await exportJWK(publicKey)) })
    .setIssuer(options.issuer)
    .setSubject(options.clientId)
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime(`${options.ttlSeconds}s`);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(options.privateKey);
}

function algorithmOf(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  throw new UsageError(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}; use RSA, EC P-256 or Ed25519`);
}

/** `30s`, `15m`, `1h`, `7d` or a number of seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'] : 0;
  if (!(seconds > 0)) throw new UsageError(`--ttl "${text}" is not a positive duration like 90s, 15m, 1h or 7d`);
  return seconds;
}

class UsageError extends Error {}

const list = (text: string): string[] =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/** `mts token`: exit 0 with the token on stdout, 2 on a usage error, 1 when the key cannot be used. */
export async function run(argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        key: { type: 'string' },
        'client-id': { type: 'string' },
        subjects: { type: 'string', default: '*' },
        permissions: { type: 'string', default: 'publish,subscribe,fetch' },
        ttl: { type: 'string', default: '1h' },
        issuer: { type: 'string', default: 'minitoolstream' },
        audience: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.stdout.write(usage);
      return 0;
    }
    if (values.key === undefined) throw new UsageError('--key is required');
    if (values['client-id'] === undefined || values['client-id'] === '') throw new UsageError('--client-id is required');
    const ttlSeconds = parseDuration(values.ttl);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(fs.readFileSync(values.key));
    } catch (error) {
      // The reason only: never key bytes.
      io.stderr.write(
        `mts token: cannot read a private key from ${values.key}: ${(error as NodeJS.ErrnoException).code ?? 'not a PEM private key'}\n`,
      );
      return 1;
    }
    const token = await mintToken({
      privateKey,
      clientId: values['client-id'],
      subjects: list(values.subjects),
      permissions: list(values.permissions),
      ttlSeconds,
      issuer: values.issuer,
      audience: values.audience,
    });
    io.stdout.write(`${token}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError) && (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') !== true) throw error;
    io.stderr.write(`mts token: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
}
