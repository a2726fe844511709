import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Interceptor } from '@connectrpc/connect';
import { STORE_COMMIT_BATCHES, STORE_COMMIT_MESSAGES, STORE_COMMITS } from '../platform/metrics.js';
import { embeddedBackend } from '../testing/embedded-backend.js';
import { wrapBackend } from '../testing/wrapped-backend.js';
import { ingressClient, startTestServices, type Protocol, type TestServices } from '../testing/test-services.js';

const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];

/** The value of one sample of the ingress's /metrics, e.g. `minitoolstream_store_commits_total{backend="embedded"}`. */
async function sample(services: TestServices, series: string): Promise<number> {
  const text = await (await fetch(`${services.ingress.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  assert.ok(line, `${series} is not exported`);
  return Number(line.slice(series.length + 1));
}

const commits = `${STORE_COMMITS}{backend="embedded"}`;
const messagesSum = `${STORE_COMMIT_MESSAGES}_sum{backend="embedded"}`;
const batchesSum = `${STORE_COMMIT_BATCHES}_sum{backend="embedded"}`;

test('an idle publish is committed by one store call of its own', async (t) => {
  const services = await startTestServices(t);
  assert.equal(await sample(services, commits), 0);
  const { sequence } = await ingressClient(services).publish({ subject: 'idle', data: new Uint8Array(3) });
  assert.equal(sequence, 1n);
  assert.equal(await sample(services, commits), 1);
  assert.equal(await sample(services, messagesSum), 1);
});

test('publishes that arrive over every protocol while a commit is in flight share the next commit', async (t) => {
  const perProtocol = 4;
  const total = 1 + perProtocol * protocols.length;
  let received = 0;
  let allReceived!: () => void;
  const everyPublishReceived = new Promise<void>((resolve) => (allReceived = resolve));
  const countPublishes: Interceptor = (next) => async (request) => {
    if (request.method.name === 'Publish' && ++received === total) allReceived();
    return next(request);
  };
  let firstStarted!: () => void;
  const firstCommitStarted = new Promise<void>((resolve) => (firstStarted = resolve));
  let releaseFirst!: () => void;
  const firstReleased = new Promise<void>((resolve) => (releaseFirst = resolve));
  let commitCalls = 0;
  // The first commit stays in flight until every other publish has reached the store.
  const holdFirstCommit = wrapBackend(embeddedBackend, {
    metadata: (inner) => ({
      ...inner,
      async commit(batch, signal, duplicateWindowMs) {
        if (++commitCalls === 1) {
          firstStarted();
          await firstReleased;
        }
        return inner.commit(batch, signal, duplicateWindowMs);
      },
    }),
  });
  const services = await startTestServices(t, { backend: holdFirstCommit, interceptors: [countPublishes] });

  const first = ingressClient(services).publish({ subject: 'merged', data: new Uint8Array([0]) });
  await firstCommitStarted;
  const others = protocols.flatMap((protocol) =>
    Array.from({ length: perProtocol }, (_, index) =>
      ingressClient(services, protocol).publish({ subject: 'merged', data: new Uint8Array([index]) }),
    ),
  );
  await everyPublishReceived;
  // Handlers queue their commit within the same turn in which they are called.
  await new Promise((resolve) => setImmediate(resolve));
  releaseFirst();
  const sequences = (await Promise.all([first, ...others])).map((response) => response.sequence).sort((a, b) => Number(a - b));
  assert.deepEqual(
    sequences,
    Array.from({ length: total }, (_, index) => BigInt(index + 1)),
  );
  assert.equal(await sample(services, commits), 2, `${total} publishes took two commits`);
  assert.equal(await sample(services, messagesSum), total);
  assert.equal(await sample(services, batchesSum), total);
});
