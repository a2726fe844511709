import { embeddedBackend } from './embedded-backend.js';
import { tarantoolBackend } from './tarantool-backend.js';
import type { TestBackend } from './test-backend.js';

/** Every backend the storage conformance suite runs against; add one per line. */
export const testBackends: TestBackend[] = [embeddedBackend, tarantoolBackend];
