import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFolderObjectStore } from '../store/embedded/folder-object-store.js';
import { openSqliteMetadataStore } from '../store/embedded/sqlite-metadata-store.js';
import type { OpenedBackend, TestBackend } from './test-backend.js';

/** Opens both embedded halves in `dir`: the database file and the payload folder. */
export async function openEmbeddedHalves(dir: string): Promise<OpenedBackend> {
  const metadata = await openSqliteMetadataStore({ file: join(dir, 'metadata.sqlite') });
  try {
    return { metadata, objects: await openFolderObjectStore({ dir: join(dir, 'objects') }) };
  } catch (error) {
    await metadata.close();
    throw error;
  }
}

/** The embedded backend in a fresh temporary folder, removed when the test ends. */
export const embeddedBackend: TestBackend = {
  name: 'embedded',
  async open(t) {
    const dir = await mkdtemp(join(tmpdir(), 'minitoolstream-embedded-'));
    let opened: OpenedBackend | undefined;
    // node:test runs after-hooks in registration order: close first, then remove.
    t.after(async () => {
      if (opened) await Promise.all([opened.metadata.close(), opened.objects.close()]);
      // A readiness probe started before close may still be creating its file: retry on ENOTEMPTY.
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    });
    opened = await openEmbeddedHalves(dir);
    return opened;
  },
};
