import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { createTestKeys } from '../testing/test-tokens.js';
import { egressClient, startTestServices, transportFor } from '../testing/test-services.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => BigInt(from + index));

test('Browse pages a subject both ways and moves no consumer', async (t) => {
  const services = await startTestServices(t);
  const egress = egressClient(services, 'connect');
  const subject = 'browse.pages';
  await services.store.publish(range(1, 250).map((n) => ({ subject, data: new TextEncoder().encode(`m${n}`), headers: { n: String(n) } })));
  await egress.ackMessage({ subject, durableName: 'reader', sequence: 7n });
  const page = async (sequence: bigint, backward: boolean, limit = 0) =>
    (await egress.browse({ subject, sequence, backward, limit })).messages.map((message) => message.sequence);

  assert.deepEqual(await page(0n, false), range(1, 20), 'forward from the start, 20 by default');
  assert.deepEqual(await page(100n, false, 5), range(100, 104), 'forward from a sequence');
  assert.deepEqual(await page(0n, true, 5), range(246, 250), 'backward from the end');
  assert.deepEqual(await page(100n, true, 5), range(96, 100), 'backward ending at a sequence');
  assert.deepEqual(await page(3n, true, 10), range(1, 3), 'backward near the start is short');
  assert.deepEqual(await page(249n, false, 10), range(249, 250), 'forward near the end is short');
  assert.deepEqual(await page(251n, false), [], 'past the end is empty');
  assert.deepEqual(await page(0n, false, 1000), range(1, 100), 'the limit is capped at 100');

  const [message] = (await egress.browse({ subject, sequence: 42n, limit: 1 })).messages;
  assert.equal(new TextDecoder().decode(message!.data), 'm42');
  assert.equal(message!.headers.n, '42');
  assert.ok(message!.timestamp !== undefined);

  const consumer = await egress.getConsumerInfo({ subject, durableName: 'reader' });
  assert.equal(consumer.ackFloor, 7n, 'browsing left the consumer where it was');
  await assert.rejects(egress.browse({ subject: '' }), (error) => ConnectError.from(error).code === Code.InvalidArgument);
});

test('Browse from a time pages forward from the first message at or after it, backward up to it', async (t) => {
  const services = await startTestServices(t);
  const egress = egressClient(services, 'connect');
  const subject = 'browse.times';
  await services.store.publish(range(1, 5).map((n) => ({ subject, data: new TextEncoder().encode(`early ${n}`), headers: {} })));
  const [early] = (await egress.browse({ subject, sequence: 5n, limit: 1 })).messages;
  // The later batch must carry a later millisecond (bounded wait for the clock to tick).
  for (const deadline = Date.now() + 5000; Date.now() <= timestampMs(early!.timestamp!) && Date.now() < deadline;) await delay(1);
  const boundary = timestampFromMs(Date.now());
  await services.store.publish(range(6, 9).map((n) => ({ subject, data: new TextEncoder().encode(`late ${n}`), headers: {} })));
  const page = async (backward: boolean, startTime = boundary) =>
    (await egress.browse({ subject, startTime, backward, limit: 3 })).messages.map((message) => message.sequence);

  assert.deepEqual(await page(false), range(6, 8));
  assert.deepEqual(await page(true), range(3, 5));
  assert.deepEqual(await page(false, timestampFromMs(0)), range(1, 3));
  assert.deepEqual(await page(true, timestampFromMs(0)), []);
  assert.deepEqual(await page(false, timestampFromMs(Date.now() + 60_000)), []);
  await assert.rejects(
    egress.browse({ subject, sequence: 3n, startTime: boundary }),
    (error) => ConnectError.from(error).code === Code.InvalidArgument,
  );
});

test('Browse needs the fetch permission on the subject', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  await services.store.publish([{ subject: 'browse.secret', data: new Uint8Array([1]), headers: {} }]);
  const browseWith = async (token: string) => {
    const client = createClient(EgressService, transportFor(services.egress.url, 'connect'));
    return client.browse({ subject: 'browse.secret' }, { headers: { authorization: `Bearer ${token}` } });
  };
  const codeOf = (error: unknown) => ConnectError.from(error).code;

  assert.equal((await browseWith(await keys.token({ permissions: ['fetch'] }))).messages.length, 1);
  await assert.rejects(browseWith(await keys.token({ permissions: ['subscribe'] })), (error) => codeOf(error) === Code.PermissionDenied);
  await assert.rejects(
    browseWith(await keys.token({ permissions: ['fetch'], subjects: ['other.*'] })),
    (error) => codeOf(error) === Code.PermissionDenied,
  );
  await assert.rejects(
    createClient(EgressService, transportFor(services.egress.url, 'connect')).browse({ subject: 'browse.secret' }),
    (error) => codeOf(error) === Code.Unauthenticated,
  );
});
