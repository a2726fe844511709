import test, { type TestContext } from 'node:test';
import { createMessageStore, type MessageStoreOptions } from '../store/message-store.js';
import type { MessageStore, MetadataStore, ObjectStore } from '../store/store.js';
import { testBackends } from './store-backends.js';
import type { TestBackend } from './test-backend.js';

/** A MessageStore under test plus the raw halves beneath it, for direct checks. */
export interface StoreUnderTest {
  store: MessageStore;
  metadata: MetadataStore;
  objects: ObjectStore;
}

export type StoreOptions = Partial<
  Pick<
    MessageStoreOptions,
    | 'inlineMaxBytes'
    | 'maxMessageBytes'
    | 'fetchParallelism'
    | 'orphanGraceMs'
    | 'sweepIntervalMs'
    | 'defaultRetention'
    | 'retentionIntervalMs'
    | 'duplicateWindowMs'
  >
> & {
  /** Wraps the backend's object store, e.g. to slow down or break it. */
  wrapObjects?: (inner: ObjectStore) => ObjectStore;
};

export type OpenStore = (options?: StoreOptions) => Promise<StoreUnderTest>;

const MiB = 1024 * 1024;
/** Payloads above this many bytes go to the object store in every store the harness opens. */
export const harnessInlineMaxBytes = 1024;
/** A payload size above {@link harnessInlineMaxBytes}: the harness's stores keep it as an object. */
export const objectSize = 2000;
/** Read limits no test reaches: every message of a subject in one read. */
export const everything = { maxMessages: 10_000, maxBytes: 1024 ** 3 };

/** Runs `body` as one subtest per backend in {@link testBackends}. */
export function forEachBackend(name: string, body: (t: TestContext, open: OpenStore) => Promise<void>): void {
  test(name, async (t) => {
    for (const backend of testBackends) {
      await t.test(backend.name, (bt) => body(bt, (options) => openStore(bt, backend, options)));
    }
  });
}

async function openStore(t: TestContext, backend: TestBackend, options: StoreOptions = {}): Promise<StoreUnderTest> {
  let store: MessageStore | undefined;
  // Registered before the backend's own teardown so the sweep stops before the halves close.
  t.after(() => store?.close());
  const { metadata, objects } = await backend.open(t);
  const { wrapObjects, ...storeOptions } = options;
  store = createMessageStore({
    metadata,
    objects: wrapObjects ? wrapObjects(objects) : objects,
    inlineMaxBytes: harnessInlineMaxBytes,
    maxMessageBytes: 16 * MiB,
    ...storeOptions,
  });
  return { store, metadata, objects };
}

/** An object store that delegates to `inner` except for the given methods. */
export function overrideObjects(inner: ObjectStore, overrides: Partial<Pick<ObjectStore, 'put' | 'get' | 'remove'>>): ObjectStore {
  return {
    name: inner.name,
    put: overrides.put ?? ((key, data, contentType, signal) => inner.put(key, data, contentType, signal)),
    get: overrides.get ?? ((key, signal) => inner.get(key, signal)),
    remove: overrides.remove ?? ((key) => inner.remove(key)),
    checkHealth: () => inner.checkHealth(),
    close: () => inner.close(),
  };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Retries `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `length` bytes of a repeating pattern seeded by `seed`, so payloads differ. */
export function payload(length: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, index) => (index * 31 + seed * 7) & 0xff);
}
