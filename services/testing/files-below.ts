import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Every file below `dir`, at any depth, relative to it. */
export async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}
