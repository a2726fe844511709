import { randomBytes } from 'node:crypto';

/**
 * A fresh object key `<encoded subject>/<time-ordered id>-<random>`: the id is
 * the current millisecond in fixed-width hex, so a subject's keys list roughly
 * in publish order; 64 random bits keep keys from concurrent publishers (any
 * replica) apart, so no two publishes ever share a key.
 */
export function newObjectKey(subject: string, nowMs: number = Date.now()): string {
  const timeId = nowMs.toString(16).padStart(12, '0');
  return `${subjectKeyPart(subject)}/${timeId}-${randomBytes(8).toString('hex')}`;
}

/**
 * The subject as one path segment of a key. Subjects may hold `/`, `./`,
 * `%` or any Unicode, which S3 servers and HTTP paths treat specially (a
 * leading or doubled `/`, dot segments), so everything but letters, digits,
 * `.`, `-` and `_` is percent-encoded as UTF-8: `orders.created` stays as it
 * is, `/x` becomes `%2Fx`. The encoding is injective, and at most 765 bytes
 * for a 255-byte subject, well inside S3's 1024-byte key limit.
 */
export function subjectKeyPart(subject: string): string {
  return encodeURIComponent(subject).replace(/[!'()*~]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}
