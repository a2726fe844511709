import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { probePath, removeLeftovers, temporaryPath } from './leftover-files.js';
import { ObjectMissingError, StoreClosedError, StoreUnavailableError, type DependencyStatus, type ObjectStore } from '../store.js';

export interface FolderObjectStoreOptions {
  /** Folder that holds the payloads; created if missing. */
  dir: string;
}

/**
 * Keys carry client subjects, which may hold `/`, `..`, any UTF-8 and up to
 * 255 bytes, so they are never used as file names. A key maps to the SHA-256
 * of its bytes, fanned out by the first two hex digits: fixed-length names
 * that cannot escape the folder or exceed a file system's name limit.
 */
export function objectPath(dir: string, key: string): string {
  const digest = createHash('sha256').update(key, 'utf8').digest('hex');
  return join(dir, digest.slice(0, 2), digest);
}

/**
 * Opens an {@link ObjectStore} over a local folder. A put is durable when it
 * resolves: data goes to a temporary file that is fsynced, renamed over the
 * final name and the directory fsynced, so a crash leaves the old state or the
 * whole new object, never a torn one; the temporary files a crash leaves
 * behind are removed when the store opens. File system failures other than a
 * missing object are {@link StoreUnavailableError} (a full disk or a lost mount
 * may recover).
 */
export async function openFolderObjectStore(options: FolderObjectStoreOptions): Promise<ObjectStore> {
  const { dir } = options;
  if (!dir) throw new TypeError('openFolderObjectStore: dir is required');
  await unavailableOnFailure('create the object folder', () => mkdir(dir, { recursive: true }));
  await unavailableOnFailure('remove temporary files left by a crash', () => removeLeftovers(dir));
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw new StoreClosedError('the folder object store is closed');
  };

  return {
    name: 'folder',

    async put(key, data, _contentType, signal) {
      ensureOpen();
      const path = objectPath(dir, key);
      await unavailableOnFailure(`store object ${key}`, () => writeDurably(path, data, signal));
    },

    async get(key, signal) {
      ensureOpen();
      try {
        return await readFile(objectPath(dir, key), { signal });
      } catch (error) {
        if (errorCode(error) === 'ENOENT') throw new ObjectMissingError(`object ${key} does not exist`);
        throw unavailable(`read object ${key}`, error);
      }
    },

    async remove(key) {
      ensureOpen();
      await unavailableOnFailure(`remove object ${key}`, () => rm(objectPath(dir, key), { force: true }));
    },

    async checkHealth(): Promise<DependencyStatus> {
      if (closed) return { name: 'folder', ok: false, detail: 'closed' };
      const probe = probePath(dir);
      try {
        await writeDurably(probe, new Uint8Array(0));
        await unlink(probe);
        return { name: 'folder', ok: true, detail: 'ok' };
      } catch (error) {
        return { name: 'folder', ok: false, detail: `folder ${dir} is not writable: ${describe(error)}` };
      }
    },

    async close() {
      closed = true;
    },
  };
}

async function writeDurably(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  const folder = join(path, '..');
  await mkdir(folder, { recursive: true });
  const temporary = temporaryPath(path);
  try {
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(data, { signal });
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  // The rename is durable only once the directory entry is on disk.
  const directory = await open(folder, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

async function unavailableOnFailure(action: string, operation: () => Promise<unknown>): Promise<void> {
  try {
    await operation();
  } catch (error) {
    throw unavailable(action, error);
  }
}

function unavailable(action: string, error: unknown): Error {
  if (error instanceof Error && error.name === 'AbortError') return error;
  return new StoreUnavailableError(`cannot ${action}: ${describe(error)}`, { cause: error });
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
