import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Temporary files of the folder store carry the writer's process id, so a
 * later start can tell a dead writer's leftover (a kill -9 mid-write) from a
 * file another live process sharing the folder is still writing.
 */
export function temporaryPath(finalPath: string): string {
  return `${finalPath}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** A zero-length file the health probe writes and removes, named like a temporary. */
export function probePath(dir: string): string {
  return join(dir, `.health-${process.pid}-${randomBytes(6).toString('hex')}`);
}

// `<name>.tmp-<pid>-<hex>` and `.health-<pid>-<hex>`; the pid is absent in names of older versions.
const leftoverName = /(?:\.tmp|^\.health)-(?:(\d+)-)?[0-9a-f]+$/;

/**
 * Removes temporary and probe files whose writer is gone: written by a process
 * that no longer runs, by an older version (no pid), or by this very pid in an
 * earlier life (a container restarts with the same pid) — which assumes one
 * store per folder per process, as the services open it. Files of other live
 * processes stay. Returns the number removed.
 */
export async function removeLeftovers(dir: string): Promise<number> {
  let removed = 0;
  const folders = [dir];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) folders.push(join(dir, entry.name));
  }
  for (const folder of folders) {
    for (const name of await readdir(folder)) {
      const match = leftoverName.exec(name);
      if (!match || (match[1] !== undefined && isOtherLiveProcess(Number(match[1])))) continue;
      await rm(join(folder, name), { force: true });
      removed++;
    }
  }
  return removed;
}

function isOtherLiveProcess(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
