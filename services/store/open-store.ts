import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../platform/config.js';
import { createDiskGuard, statfsReader } from './embedded/disk-guard.js';
import { openFolderObjectStore } from './embedded/folder-object-store.js';
import { openSqliteMetadataStore } from './embedded/sqlite-metadata-store.js';
import { createMessageStore } from './message-store.js';
import type { PayloadBudget } from './payload-budget.js';
import { openMinioObjectStore } from './s3/object-store.js';
import type { MessageStore, MetadataStore, ObjectStore } from './store.js';
import { openTarantoolMetadataStore } from './tarantool/metadata-store.js';

/**
 * The one place that picks the backend: Tarantool + MinIO (what the manifests
 * run), or the embedded SQLite file + payload folder under `dataDir` only when
 * `STORAGE=embedded` asks for it. Opening Tarantool/MinIO never waits for
 * them: the store reconnects in the background and readiness reports it.
 */
export async function openStore(config: Config, logger: Logger, payloadBudget: PayloadBudget): Promise<MessageStore> {
  const storeLogger = logger.child({ component: 'store' });
  const [metadata, objects] = config.storage === 'embedded' ? await openEmbedded(config, storeLogger) : openRemote(config);
  return createMessageStore({
    metadata,
    objects,
    inlineMaxBytes: config.inlineMaxBytes,
    maxMessageBytes: config.maxMessageBytes,
    payloadBudget,
    defaultRetention: config.retention,
    duplicateWindowMs: config.duplicateWindowMs,
    logger: storeLogger,
  });
}

async function openEmbedded({ dataDir, diskRefusePercent }: Config, logger: Logger): Promise<[MetadataStore, ObjectStore]> {
  await mkdir(dataDir, { recursive: true });
  const diskGuard = createDiskGuard({ read: statfsReader(dataDir), refusePercent: diskRefusePercent, logger });
  const metadata = await openSqliteMetadataStore({ file: path.join(dataDir, 'metadata.sqlite'), logger, diskGuard });
  return [metadata, await openFolderObjectStore({ dir: path.join(dataDir, 'objects') })];
}

function openRemote(config: Config): [MetadataStore, ObjectStore] {
  return [openTarantoolMetadataStore(config.tarantool), openMinioObjectStore(config.minio)];
}
