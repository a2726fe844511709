import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { payload } from '../testing/conformance-harness.js';
import { testBackends } from '../testing/store-backends.js';
import { egressClient, startTestServices, type TestServices } from '../testing/test-services.js';
import { SKIPPED_MESSAGES } from '../platform/metrics.js';
import { PURGED_MESSAGES, STORED_MESSAGES } from '../platform/store-metrics.js';

/** A logger whose warnings the test reads back. */
function recordingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

async function metric(services: TestServices, name: string): Promise<number> {
  const text = await (await fetch(`${services.egress.url}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

const skippedTotal = (services: TestServices) => metric(services, SKIPPED_MESSAGES);

for (const backend of testBackends) {
  test(`${backend.name}: a consumer below the first retained sequence resumes at it and the skip is reported`, async (t) => {
    const { logger, lines } = recordingLogger();
    const services = await startTestServices(t, { backend, logger });
    const egress = egressClient(services);
    const subject = 'expired.feed';
    await services.store.publish(Array.from({ length: 6 }, (_, index) => ({ subject, data: payload(8, index), headers: {} })));
    await services.store.ack('fetcher', subject, 1n);
    assert.equal(await services.store.purge(subject, 3n), 3);
    assert.equal(await metric(services, PURGED_MESSAGES), 3, 'the store counts purged messages');
    assert.equal(await metric(services, STORED_MESSAGES), 3, 'and the messages it holds');

    const info = await egress.getConsumerInfo({ subject, durableName: 'fetcher' });
    assert.deepEqual([info.ackFloor, info.pending], [1n, 3n], 'pending leaves out the deleted messages');

    const fetched: bigint[] = [];
    for await (const message of egress.fetch({ subject, durableName: 'fetcher', batchSize: 2 })) fetched.push(message.sequence);
    assert.deepEqual(fetched, [4n, 5n], 'Fetch resumes at the first retained sequence');
    assert.equal(await services.store.ackFloor('fetcher', subject), 3n, 'the floor moved up to the gap');
    assert.equal(await skippedTotal(services), 2);
    const [line] = lines.filter((entry) => entry.durable === 'fetcher');
    assert.deepEqual([line?.skipped, line?.firstRetained, line?.subject], ['2', '4', subject]);
    for await (const _ of egress.fetch({ subject, durableName: 'fetcher', batchSize: 1 }));
    assert.equal(await skippedTotal(services), 2, 'a gap is reported once');

    const stop = new AbortController();
    t.after(() => stop.abort());
    const frames = egress.consume({ subject, durableName: 'consumer' }, { signal: stop.signal });
    for await (const frame of frames) {
      if (frame.messages.length === 0) continue;
      assert.equal(frame.messages[0]!.sequence, 4n, 'Consume resumes at the first retained sequence');
      break;
    }
    stop.abort();
    assert.equal(await services.store.ackFloor('consumer', subject), 3n);
    assert.equal(await skippedTotal(services), 5);
    assert.ok(lines.some((entry) => entry.durable === 'consumer' && entry.skipped === '3'));
  });
}
