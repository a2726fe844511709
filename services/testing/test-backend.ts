import type { TestContext } from 'node:test';
import type { MetadataStore, ObjectStore } from '../store/store.js';

/** A metadata + object store pair, opened fresh for one test and closed by it. */
export interface OpenedBackend {
  metadata: MetadataStore;
  objects: ObjectStore;
}

/**
 * One storage backend as the conformance suite sees it. `open` starts what
 * it needs (a temp folder, a Tarantool process, an S3 server) and registers
 * its teardown with `t.after`.
 */
export interface TestBackend {
  name: string;
  open(t: TestContext): Promise<OpenedBackend>;
}
