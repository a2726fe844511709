import type { TestContext } from 'node:test';
import { openMinioObjectStore } from '../store/s3/object-store.js';
import { openTarantoolMetadataStore } from '../store/tarantool/metadata-store.js';
import { startS3Server, type S3Server } from './s3-server.js';
import { startTarantool, type StartTarantoolOptions, type TarantoolServer } from './tarantool-server.js';
import type { MetadataStore } from '../store/store.js';
import type { OpenedBackend, TestBackend } from './test-backend.js';

/** The opened stores plus the servers beneath them, for tests that stop or restart them. */
export interface OpenedTarantoolBackend extends OpenedBackend {
  tarantool: TarantoolServer;
  s3: S3Server;
}

/** Starts a Tarantool process and s3rver and opens connected stores on them; `t.after` closes all. */
export async function openTarantoolBackend(t: TestContext, options: StartTarantoolOptions = {}): Promise<OpenedTarantoolBackend> {
  const [tarantool, s3] = await Promise.all([startTarantool(t, options), startS3Server(t)]);
  const metadata = openTarantoolMetadataStore({
    host: tarantool.host,
    port: tarantool.port,
    user: tarantool.user,
    password: tarantool.password,
    callTimeoutMs: 5000,
    maxReconnectDelayMs: 200,
  });
  const objects = openMinioObjectStore({
    host: s3.host,
    port: s3.port,
    useSSL: false,
    accessKey: s3.accessKey,
    secretKey: s3.secretKey,
    bucket: 'minitoolstream',
  });
  t.after(async () => {
    await Promise.all([metadata.close(), objects.close()]);
  });
  await waitUntilConnected(metadata);
  return { metadata, objects, tarantool, s3 };
}

/** Tarantool (a real process) for metadata and s3rver for objects, fresh per test. */
export const tarantoolBackend: TestBackend = {
  name: 'tarantool',
  async open(t) {
    const { metadata, objects } = await openTarantoolBackend(t);
    return { metadata, objects };
  },
};

/** The store connects in the background; tests want it connected before the first call. */
export async function waitUntilConnected(store: MetadataStore, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = await store.checkHealth();
    if (health.ok) return;
    if (Date.now() > deadline) throw new Error(`tarantool store did not connect: ${health.detail}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
