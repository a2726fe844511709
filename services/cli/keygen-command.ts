import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const usage = `Usage: mts keygen --out DIR [options]

Writes a signing key pair for JWTs: DIR/NAME.key (private, PKCS#8, mode 0600;
keep it with whoever mints tokens, e.g. \`mts token --key\`) and DIR/NAME.pub
(public, SPKI; give it to the services as JWT_PUBLIC_KEY_FILE).

  --out DIR       folder to write into (created if missing)
  --name NAME     file name stem (default jwt)
  --type TYPE     rsa (RS256, what the original clients use), ec (ES256) or ed25519 (EdDSA); default rsa
  --force         overwrite existing files
  -h, --help      this text
`;

export type KeyType = 'rsa' | 'ec' | 'ed25519';

/** A fresh key pair of `type` as PEM: PKCS#8 private, SPKI public. */
export function generateKeyPairPem(type: KeyType): { privateKey: string; publicKey: string } {
  const pair = generate(type);
  return {
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function generate(type: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (type) {
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'ec':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
  }
}

/** `mts keygen`: exit 0 after writing both files, 2 on a usage error, 1 when they cannot be written. */
export async function run(argv: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        out: { type: 'string' },
        name: { type: 'string', default: 'jwt' },
        type: { type: 'string', default: 'rsa' },
        force: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    io.stderr.write(`mts keygen: ${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(usage);
    return 0;
  }
  const problem =
    values.out === undefined
      ? '--out is required'
      : !['rsa', 'ec', 'ed25519'].includes(values.type)
        ? `--type "${values.type}" is not one of rsa, ec, ed25519`
        : !/^[\w.-]+$/.test(values.name)
          ? `--name "${values.name}" must be a plain file name`
          : undefined;
  if (problem !== undefined) {
    io.stderr.write(`mts keygen: ${problem}\n\n${usage}`);
    return 2;
  }
  const privatePath = path.join(values.out!, `${values.name}.key`);
  const publicPath = path.join(values.out!, `${values.name}.pub`);
  const { privateKey, publicKey } = generateKeyPairPem(values.type as KeyType);
  // 'wx' refuses to replace a key someone still relies on unless asked to.
  const flag = values.force ? 'w' : 'wx';
  try {
    fs.mkdirSync(values.out!, { recursive: true });
    fs.writeFileSync(privatePath, privateKey, { mode: 0o600, flag });
    fs.chmodSync(privatePath, 0o600);
    fs.writeFileSync(publicPath, publicKey, { mode: 0o644, flag });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    io.stderr.write(
      `mts keygen: cannot write the key pair: ${code === 'EEXIST' ? 'a file exists (use --force to overwrite)' : (error as Error).message}\n`,
    );
    return 1;
  }
  io.stdout.write(`private key: ${privatePath}\npublic key:  ${publicPath}\n`);
  return 0;
}
