import assert from 'node:assert/strict';
import type { Message } from '../../gen/minitoolstream/egress_pb.js';
import { test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { openTarantoolLink } from '../store/tarantool/connection.js';
import { assertSameBytes } from '../testing/assert-bytes.js';
import { eventually, payload } from '../testing/conformance-harness.js';
import { waitForReadyz } from '../testing/service-process.js';
import { openTarantoolBackend, waitUntilConnected, type OpenedTarantoolBackend } from '../testing/tarantool-backend.js';
import type { TestBackend } from '../testing/test-backend.js';
import { egressClient, ingressClient, startTestServices, type TestServices } from '../testing/test-services.js';
import { within } from '../testing/within.js';

const subject = 'payments.settled';

function codeOf(error: unknown): Code {
  return ConnectError.from(error).code;
}

async function bothReadyz(services: TestServices, status: number): Promise<void> {
  await Promise.all([waitForReadyz(services.ingress.url, status, 10_000), waitForReadyz(services.egress.url, status, 10_000)]);
}

test('a Tarantool crash is reported, answered UNAVAILABLE, survived without restart, and loses no acknowledged message', async (t) => {
  // Registered before the services' stop, so it runs first (after-hooks run in registration order).
  const subscription = new AbortController();
  t.after(() => subscription.abort());
  let servers!: OpenedTarantoolBackend;
  const backend: TestBackend = { name: 'tarantool', open: async (bt) => (servers = await openTarantoolBackend(bt)) };
  // Some payloads go to the object store, which stays up throughout.
  const services = await startTestServices(t, { backend, env: { INLINE_MAX_BYTES: '1024' } });
  const ingress = ingressClient(services);
  const egress = egressClient(services);
  await bothReadyz(services, 200);

  const acknowledged = new Map<bigint, Uint8Array>();
  const failures: Code[] = [];
  let publishing = true;
  const publisher = (async () => {
    for (let index = 0; publishing; index++) {
      const data = payload(index % 4 === 0 ? 4096 : 64, index);
      try {
        acknowledged.set((await ingress.publish({ subject, data })).sequence, data);
      } catch (error) {
        failures.push(codeOf(error));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  })();
  const notifications = egress.subscribe({ subject, durableName: 'watcher' }, { signal: subscription.signal })[Symbol.asyncIterator]();
  await eventually(async () => acknowledged.size >= 20, 30_000);

  await servers.tarantool.kill();
  await bothReadyz(services, 503);
  await assert.rejects(ingress.publish({ subject, data: payload(8) }), (error) => codeOf(error) === Code.Unavailable);
  await assert.rejects(egress.getLastSequence({ subject }), (error) => codeOf(error) === Code.Unavailable);
  await assert.rejects(egress.ackMessage({ subject, durableName: 'watcher', sequence: 1n }), (error) => codeOf(error) === Code.Unavailable);
  const fetching = async () => {
    for await (const _message of egress.fetch({ subject, durableName: 'watcher' }));
  };
  await assert.rejects(fetching(), (error) => codeOf(error) === Code.Unavailable);

  await servers.tarantool.start();
  await bothReadyz(services, 200);
  const afterRestart = await ingress.publish({ subject, data: payload(8) });
  publishing = false;
  await publisher;
  assert.ok(failures.length > 0, 'the outage was noticed by the publisher');
  assert.deepEqual([...new Set(failures)], [Code.Unavailable], 'every failure during the outage was UNAVAILABLE');

  // The subscription opened before the crash still notifies after it.
  let notified = 0n;
  while (notified < afterRestart.sequence)
    notified = (await within(notifications.next(), 30_000, 'a notification after the restart')).value!.sequence;

  const last = (await within(egress.getLastSequence({ subject }), 30_000, 'the last sequence after the restart')).lastSequence;
  const fetched: Message[] = [];
  const fetchAll = async () => {
    for await (const message of egress.fetch({ subject, durableName: 'auditor', batchSize: 1000 })) fetched.push(message);
  };
  await within(fetchAll(), 60_000, 'fetching every message after the restart');
  assert.deepEqual(
    fetched.map((message) => message.sequence),
    Array.from({ length: Number(last) }, (_, index) => BigInt(index + 1)),
  );
  for (const [sequence, data] of acknowledged)
    assertSameBytes(fetched[Number(sequence) - 1]!.data, data, `acknowledged sequence ${sequence}`);
  t.diagnostic(`${acknowledged.size} messages acknowledged, ${failures.length} publishes refused during the outage`);
});

test('the sequence counter never goes back after old rows are deleted and Tarantool restarts', async (t) => {
  let servers!: OpenedTarantoolBackend;
  const backend: TestBackend = { name: 'tarantool', open: async (bt) => (servers = await openTarantoolBackend(bt)) };
  const services = await startTestServices(t, { backend });
  const ingress = ingressClient(services);
  for (let index = 0; index < 5; index++) await ingress.publish({ subject, data: payload(8, index) });

  const link = openTarantoolLink({ ...servers.tarantool, callTimeoutMs: 5000 });
  t.after(() => link.close());
  const connected = Date.now() + 5000;
  while (!link.connected && Date.now() < connected) await new Promise((resolve) => setTimeout(resolve, 20));
  const deleted = (await link.call('mts_delete_through', [subject, '5', 1000])) as { deleted: number };
  assert.equal(deleted.deleted, 5);
  await link.close();

  await servers.tarantool.kill();
  await servers.tarantool.start();
  await waitUntilConnected(servers.metadata);
  await bothReadyz(services, 200);
  assert.equal((await egressClient(services).getLastSequence({ subject })).lastSequence, 5n);
  assert.equal((await ingress.publish({ subject, data: payload(8) })).sequence, 6n);
});
