/**
 * Run by object-store.test.ts in a child process, since the test runner keeps
 * an async hook of its own on: prints whether promises are tracked by an async
 * hook while two object-store calls are in flight and after they ended.
 * S3_HOST and S3_PORT name a running S3 server.
 */
import { executionAsyncResource } from 'node:async_hooks';
import { openMinioObjectStore } from './object-store.js';

// With a promise hook on, a promise reaction runs in the promise as its async resource.
const promisesTracked = () => Promise.resolve().then(() => executionAsyncResource() instanceof Promise);
const store = openMinioObjectStore({
  host: process.env.S3_HOST!,
  port: Number(process.env.S3_PORT),
  useSSL: false,
  accessKey: 'S3RVER',
  secretKey: 'S3RVER',
  bucket: 'minitoolstream',
});
const data = new Uint8Array(1000).fill(3);
const before = await promisesTracked();
const calls = [store.put('x/1', data, 'application/octet-stream'), store.put('x/2', data, 'application/octet-stream')];
const during = await promisesTracked();
await Promise.all(calls);
const after = await promisesTracked();
await store.close();
process.stdout.write(JSON.stringify({ before, during, after }));
