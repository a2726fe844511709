import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import { StoreFullError } from '../store.js';

/** A reading of the filesystem holding the embedded store: bytes used, and bytes still available to it. */
export interface DiskSpace {
  usedBytes: number;
  availableBytes: number;
}

export type ReadDiskSpace = () => Promise<DiskSpace>;

/** Reads the filesystem of `dir` as `df` does: used blocks against used plus available ones. */
export function statfsReader(dir: string): ReadDiskSpace {
  return async () => {
    const stats = await statfs(dir);
    return { usedBytes: (stats.blocks - stats.bfree) * stats.bsize, availableBytes: stats.bavail * stats.bsize };
  };
}

export interface DiskGuardOptions {
  read: ReadDiskSpace;
  /** Writes are refused while the disk is at least this full (percent). */
  refusePercent: number;
  /** A reading older than this is renewed (in the background) by the next check; default 2 s. */
  maxAgeMs?: number;
  logger?: Logger | undefined;
}

/**
 * Refuses writes of new messages while the disk is nearly full, so the
 * embedded store says so with `resource_exhausted` before SQLite or a payload
 * write fails; deletes, acks and reads never ask it. A check costs no system
 * call: it answers from the last reading and, when that reading is older
 * than `maxAgeMs`, starts a new one in the background (one at a time), so an
 * idle store reads nothing and a busy one reads at most every `maxAgeMs`.
 */
export interface DiskGuard {
  /** Throws {@link StoreFullError} when the last reading was at or above the refuse percent. */
  check(): void;
  /** Percent in use at the last reading (renewing it if stale); undefined before the first. */
  usedPercent(): number | undefined;
  /** Takes a reading now; resolves when it is in. */
  refresh(): Promise<void>;
}

export function createDiskGuard(options: DiskGuardOptions): DiskGuard {
  const { read, refusePercent, maxAgeMs = 2000, logger } = options;
  let used: number | undefined;
  let readAtMs = -Infinity;
  let reading: Promise<void> | undefined;

  const readOnce = (): Promise<void> =>
    (reading ??= read()
      .then(({ usedBytes, availableBytes }) => {
        const percent = (usedBytes * 100) / Math.max(usedBytes + availableBytes, 1);
        const wasFull = used !== undefined && used >= refusePercent;
        if (percent >= refusePercent && !wasFull)
          logger?.warn({ usedPercent: percent, refusePercent }, 'disk nearly full: refusing publishes');
        if (percent < refusePercent && wasFull)
          logger?.info({ usedPercent: percent, refusePercent }, 'disk has room again: accepting publishes');
        used = percent;
      })
      .catch((error: unknown) => logger?.warn({ err: error }, 'could not read the free disk space'))
      .finally(() => {
        readAtMs = Date.now();
        reading = undefined;
      }));

  const renewIfStale = (): void => {
    if (Date.now() - readAtMs >= maxAgeMs) void readOnce();
  };

  void readOnce();
  return {
    check() {
      renewIfStale();
      if (used !== undefined && used >= refusePercent) {
        throw new StoreFullError(
          `the disk of the embedded store is ${used.toFixed(1)}% full; publishes are refused from ${refusePercent}% ` +
            'until retention or a purge frees space',
        );
      }
    },
    usedPercent() {
      renewIfStale();
      return used;
    },
    async refresh() {
      // A reading already under way may have started before what the caller wants seen.
      await reading;
      await readOnce();
    },
  };
}
