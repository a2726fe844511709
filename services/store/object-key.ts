import { randomBytes } from 'node:crypto';

/**
 * A fresh object key `<subject>/<time-ordered id>-<random>`: the id is the
 * current millisecond in fixed-width hex, so a subject's keys list roughly in
 * publish order; 64 random bits keep keys from concurrent publishers (any
 * replica) apart, so no two publishes ever share a key.
 */
export function newObjectKey(subject: string, nowMs: number = Date.now()): string {
  const timeId = nowMs.toString(16).padStart(12, '0');
  return `${subject}/${timeId}-${randomBytes(8).toString('hex')}`;
}
