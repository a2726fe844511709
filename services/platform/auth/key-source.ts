import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, type CryptoKey, type JWSHeaderParameters } from 'jose';
import type { Logger } from 'pino';
import { ConfigError, type AuthConfig } from '../config.js';
import { watchFiles } from '../file-watch.js';
import { keyFitsAlgorithm, readPublicKeys, type PublicKey } from './key-file.js';

/** Where verification keys come from. */
export interface KeySource {
  /**
   * Keys that may have signed a token with this header, most likely first.
   * Empty when none fits; throws when the keys cannot be fetched.
   */
  candidates(header: JWSHeaderParameters): Promise<Array<KeyObject | CryptoKey>>;
  close(): void;
}

export interface KeySourceOptions {
  logger: Logger;
  /** How often the key file is checked for a rotation. */
  reloadIntervalMs?: number;
}

/** The key file or the JWKS endpoint of `config`; a bad key file is a {@link ConfigError}. */
export async function openKeySource(config: AuthConfig, options: KeySourceOptions): Promise<KeySource> {
  if (config.jwksUrl !== undefined) return remoteKeySource(config.jwksUrl);
  if (config.publicKeyFile !== undefined) return openKeyFile(config.publicKeyFile, options);
  throw new ConfigError('AUTH_MODE', 'needs JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL');
}

async function openKeyFile(path: string, { logger, reloadIntervalMs = 10_000 }: KeySourceOptions): Promise<KeySource> {
  let keys: PublicKey[];
  try {
    keys = await readPublicKeys(path);
  } catch (error) {
    throw new ConfigError('JWT_PUBLIC_KEY_FILE', `${path}: ${(error as Error).message}`);
  }
  // A rotation adds the new key beside the old one, then removes the old one later.
  const stop = watchFiles([path], reloadIntervalMs, () => {
    readPublicKeys(path).then(
      (loaded) => {
        keys = loaded;
        logger.info({ keys: loaded.length }, 'JWT public keys reloaded');
      },
      (error: Error) => logger.warn({ file: path, problem: error.message }, 'JWT public key file unusable; keeping the previous keys'),
    );
  });
  return {
    async candidates({ alg, kid }) {
      const fitting = keys.filter(({ key }) => typeof alg === 'string' && keyFitsAlgorithm(key, alg));
      // Tokens from other issuers may name keys differently: a kid that matches nothing still tries every fitting key.
      const named = fitting.filter((key) => key.kid === kid);
      return [...named, ...fitting.filter((key) => key.kid !== kid)].map(({ key }) => key);
    },
    close: stop,
  };
}

function remoteKeySource(url: string): KeySource {
  // Cached, refetched when a token names an unknown kid (at most every 30 s) and at least every 10 minutes.
  const jwks = createRemoteJWKSet(new URL(url));
  return {
    async candidates(header) {
      try {
        return [await jwks(header)];
      } catch (error) {
        // As with the key file: a kid the set does not use still tries every key that fits the algorithm.
        if (error instanceof errors.JWKSNoMatchingKey)
          return header.kid === undefined ? [] : this.candidates({ ...header, kid: undefined });
        if (error instanceof errors.JWKSMultipleMatchingKeys) {
          const keys: CryptoKey[] = [];
          for await (const key of error as unknown as AsyncIterable<CryptoKey>) keys.push(key);
          return keys;
        }
        throw error;
      }
    },
    close() {},
  };
}
