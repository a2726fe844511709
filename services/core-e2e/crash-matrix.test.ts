import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';
import type { ServiceName } from '../platform/config.js';
import { eventually } from '../testing/conformance-harness.js';
import { freePort } from '../testing/free-port.js';
import { remoteStorageEnv, spawnService, waitForReadyz, type ServiceProcess } from '../testing/service-process.js';
import { openTarantoolBackend } from '../testing/tarantool-backend.js';
import { within } from '../testing/within.js';
import { PublishLedger, streamPublisher, unaryPublisher } from './crash-publishers.js';
import { auditStore, bucketKeys, type AuditResult } from './store-audit.js';

const largeSubject = 'crash.large';
const subjects = ['crash.orders', 'crash.payments', largeSubject];
const inlineMaxBytes = 1024;
/** Long enough that the large upload finishes within half of it (else it is refused and deleted at once). */
const orphanGraceMs = 8000;
/** Large enough that its upload is still running when the test sees its pending entry. */
const largeBytes = 32 * 1024 * 1024;
const bucket = 'minitoolstream';
/** Acknowledgements each publisher gets before a fault and again after recovery. */
const progressPerPublisher = 10;
const waitMs = 30_000;

/** A service process that can be SIGKILLed and started again on the same port. */
interface CrashableService {
  url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** Waits for `check` to hold, failing with `what` after {@link waitMs}. */
function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  return within(eventually(check, waitMs), waitMs + 1000, what);
}

async function crashableService(t: TestContext, service: ServiceName, env: Record<string, string>): Promise<CrashableService> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let running: ServiceProcess | undefined;
  const crashable = {
    url,
    async kill() {
      const child = running!;
      running = undefined;
      child.child.kill('SIGKILL');
      await within(child.exited, waitMs, `${service} to die`);
    },
    async start() {
      running = await spawnService(t, service, { ...env, SERVER_PORT: String(port) });
      await waitForReadyz(url, 200, waitMs);
    },
  };
  await crashable.start();
  return crashable;
}

test('kill -9 of ingress, egress and Tarantool and an object-store outage under 4 publishers lose no acknowledged message and leave no orphan', async (t) => {
  const servers = await openTarantoolBackend(t);
  const env = {
    ...remoteStorageEnv(servers.tarantool, servers.s3),
    MINIO_BUCKET_NAME: bucket,
    INLINE_MAX_BYTES: String(inlineMaxBytes),
    ORPHAN_GRACE_MS: String(orphanGraceMs),
    ORPHAN_SWEEP_INTERVAL_MS: '200',
  };
  const [ingress, egress] = await Promise.all([crashableService(t, 'ingress', env), crashableService(t, 'egress', env)]);
  // Each reconnects to a restarted dependency on its own schedule; the audit reads through egress.
  const bothReadyz = (status: number) =>
    Promise.all([waitForReadyz(ingress.url, status, waitMs), waitForReadyz(egress.url, status, waitMs)]);
  const egressClient = createClient(EgressService, createGrpcTransport({ baseUrl: egress.url }));
  const ingressLarge = createClient(IngressService, createGrpcTransport({ baseUrl: ingress.url }));
  const ledger = new PublishLedger();
  const publishers = [
    { name: 'unary-orders', subject: subjects[0]!, run: unaryPublisher },
    { name: 'stream-orders', subject: subjects[0]!, run: streamPublisher },
    { name: 'unary-payments', subject: subjects[1]!, run: unaryPublisher },
    { name: 'stream-payments', subject: subjects[1]!, run: streamPublisher },
  ];
  const audits: Record<string, AuditResult> = {};

  const progress = async (what: string) => {
    const from = publishers.map(({ name }) => ledger.acksOf.get(name) ?? 0);
    await waitFor(`every publisher to be acknowledged ${what}`, async () =>
      publishers.every(({ name }, index) => (ledger.acksOf.get(name) ?? 0) >= from[index]! + progressPerPublisher),
    );
  };
  const refusedIn = (phase: string) => ledger.refused.filter((refusal) => refusal.phase === phase);

  /** Publishers run through `fault`; once each is acknowledged again they stop and the store is audited. */
  const phase = async (name: string, fault: () => Promise<void>) => {
    ledger.phase = name;
    let running = true;
    const loops = publishers.map(({ name: publisher, subject, run }) =>
      run({ name: publisher, subject, url: ingress.url, ledger, running: () => running, inlineMaxBytes }),
    );
    await progress(`before the ${name} fault`);
    await fault();
    await progress(`after the ${name} fault`);
    running = false;
    await within(Promise.all(loops), waitMs, 'the publishers to stop');
    audits[name] = await within(
      auditStore({ egress: egressClient, ...servers, bucket, subjects, ledger }),
      waitMs,
      `the audit after ${name}`,
    );
  };
  const codesIn = (name: string) => [...new Set(refusedIn(name).map((refusal) => Code[refusal.code]))];

  await phase('ingress kill -9', async () => {
    await ingress.kill();
    await ingress.start();
  });

  // A dead process answers nothing: the one call each publisher had in flight breaks with its
  // connection, which the client's HTTP/2 stack reports as CANCELLED (RST_STREAM CANCEL) or ABORTED
  // (ECONNRESET). Every later call finds the port closed until the restart: UNAVAILABLE.
  const broken = refusedIn('ingress kill -9').filter((refusal) => refusal.code !== Code.Unavailable);
  assert.ok(
    broken.every((refusal) => refusal.code === Code.Canceled || refusal.code === Code.Aborted),
    `only lost connections are not UNAVAILABLE: ${JSON.stringify(broken)}`,
  );
  assert.ok(
    new Set(broken.map((refusal) => refusal.publisher)).size === broken.length,
    `one broken call per publisher at most: ${JSON.stringify(broken)}`,
  );
  assert.ok(
    refusedIn('ingress kill -9').some((refusal) => refusal.code === Code.Unavailable),
    'publishes while ingress was down were refused',
  );
  await phase('egress kill -9', async () => {
    let consuming = true;
    let ackedThrough = 0n;
    const consumerErrors: Code[] = [];
    const consumer = (async () => {
      while (consuming) {
        try {
          const batch = [];
          for await (const message of egressClient.fetch({ subject: subjects[0]!, durableName: 'crash-consumer', batchSize: 20 }))
            batch.push(message);
          const last = batch.at(-1)?.sequence;
          if (
            last !== undefined &&
            (await egressClient.ackMessage({ subject: subjects[0]!, durableName: 'crash-consumer', sequence: last })).success
          )
            ackedThrough = last;
        } catch (error) {
          consumerErrors.push(ConnectError.from(error).code);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      }
    })();
    await waitFor('the consumer to ack before the crash', async () => ackedThrough > 0n);
    await egress.kill();
    await egress.start();
    const beforeRestart = ackedThrough;
    await waitFor('the consumer to ack after the restart', async () => ackedThrough > beforeRestart);
    consuming = false;
    await within(consumer, waitMs, 'the consumer to stop');
    const { ackFloor } = await egressClient.getConsumerInfo({ subject: subjects[0]!, durableName: 'crash-consumer' });
    assert.equal(ackFloor, ackedThrough, 'the consumer position is its last acknowledged ack');
    t.diagnostic(`consumer errors while egress was down: ${[...new Set(consumerErrors.map((code) => Code[code]))].join(', ') || 'none'}`);
  });
  assert.deepEqual(refusedIn('egress kill -9'), [], 'an egress crash does not touch publishing');

  let largeObject = '';
  await phase('tarantool kill -9', async () => {
    // Killed while a large upload is in flight: the upload completes, its commit cannot,
    // and the object it left behind is the orphan sweep's to remove. In flight means its PUT
    // reached the object store: the pending-upload row shows earlier, before the ingress has
    // its reply, and a kill then refuses the publish before anything is uploaded.
    const uploadBegins = servers.s3.requested((method, path) => method === 'PUT' && path.includes(`/${largeSubject}/`));
    const large = ledger.message('large', largeSubject, largeBytes);
    const refusal = ingressLarge.publish(large, { timeoutMs: waitMs }).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    await within(uploadBegins, waitMs, 'the large upload to begin');
    await servers.tarantool.kill();
    const refused = await within(refusal, waitMs, 'the large publish to end');
    assert.equal(refused?.code, Code.Unavailable, 'the large publish, cut off from Tarantool, is refused UNAVAILABLE');
    // Tarantool is down, so no sweep can run yet.
    largeObject = (await bucketKeys(servers.s3, bucket)).find((key) => key.startsWith(`${largeSubject}/`)) ?? '';
    assert.notEqual(largeObject, '', 'the refused publish left its object in the bucket');
    await waitFor('publishes refused while Tarantool is down', async () => refusedIn('tarantool kill -9').length >= publishers.length);
    // Readiness answers from a periodic check: seeing it fail first means the 200 after the restart is fresh.
    await bothReadyz(503);
    await servers.tarantool.start();
    await bothReadyz(200);
  });
  assert.deepEqual(codesIn('tarantool kill -9'), ['Unavailable'], 'Tarantool down: every refusal is UNAVAILABLE');

  await phase('object store down 5 s', async () => {
    await servers.s3.stop();
    // The outage itself is the scenario: the object store stays away this long.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    await servers.s3.start();
    await bothReadyz(200);
  });
  assert.deepEqual(codesIn('object store down 5 s'), ['Unavailable'], 'object store down: every refusal is UNAVAILABLE');

  // With nothing publishing, the processes' sweeps remove every upload no message refers to.
  const final = audits['object store down 5 s']!;
  await waitFor('the orphan sweep to remove every uncommitted upload', async () => {
    const keys = await bucketKeys(servers.s3, bucket);
    const pending = await servers.metadata.listStalePendingUploads(Date.now() + 1, 10);
    return pending.length === 0 && keys.every((key) => final.referenced.has(key)) && !keys.includes(largeObject);
  });

  for (const [name, audit] of Object.entries(audits))
    t.diagnostic(
      `${name}: ${audit.messages} messages stored, ${audit.referenced.size} objects referenced, ${audit.unreferenced.length} unreferenced, refused: ${codesIn(name).join(', ') || 'none'} (${refusedIn(name).length})`,
    );
  t.diagnostic(
    `${[...ledger.acknowledged.values()].reduce((sum, each) => sum + each.size, 0)} acknowledged of ${ledger.attempts.size} attempts`,
  );
});
