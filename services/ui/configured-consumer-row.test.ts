import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { create, toJson } from '@bufbuild/protobuf';
import { AckPolicy, ConsumerInfoSchema, type ConsumerInfo } from '../../gen/minitoolstream/egress_pb.js';
import { openPage } from '../testing/browser-page.js';

const info = (fields: Parameters<typeof create<typeof ConsumerInfoSchema>>[1]): ConsumerInfo => create(ConsumerInfoSchema, fields);

// Fixed ConsumerInfo objects as ListConsumers describes a configured consumer (subject empty,
// figures summed, one position per subject), rendered in Chromium as the consumers page does.
const consumers = [
  info({
    durableName: 'billing',
    config: {
      durableName: 'billing',
      filterSubjects: ['orders.*', 'refunds.>'],
      ackPolicy: AckPolicy.EXPLICIT,
      deadLetterSubject: 'orders.dead',
    },
    pending: 7n,
    delivered: 12n,
    ackPending: 3n,
    redelivered: 1n,
    waiting: 2,
    lagMs: 65_000n,
    deadLettered: 2n,
    positions: [
      { subject: 'orders.eu', ackFloor: 4n, delivered: 8n, lastSequence: 10n },
      { subject: 'orders.us', ackFloor: 2n, delivered: 2n, lastSequence: 6n },
    ],
  }),
  info({ durableName: 'audit', config: { durableName: 'audit', filterSubjects: ['audit.>'] }, pending: 0n, lagMs: 850n }),
  info({ durableName: 'idle', config: { durableName: 'idle', filterSubjects: ['idle'] }, deadLettered: 5n }),
  info({ durableName: 'slow', config: { durableName: 'slow', filterSubjects: ['slow'] }, lagMs: 2n * 86_400_000n + 3n * 3_600_000n }),
];

test('configured consumers show ack pending, redelivered, dead-lettered, lag in time and positions', async (t) => {
  const page = await openPage(t, fileURLToPath(new URL('./configured-consumer-row-page.ts', import.meta.url)), 'renderConfiguredConsumers');
  // As JSON (the page reads it back with fromJson): ConsumerInfo has bigints and nested messages.
  const json: unknown = consumers.map((consumer) => toJson(ConsumerInfoSchema, consumer));
  await page.evaluate(
    ([consumersJson, trend]) =>
      (globalThis as unknown as { renderConfiguredConsumers(c: unknown, t: number[]): void }).renderConfiguredConsumers(
        consumersJson,
        trend,
      ),
    [json, [9, 4, 7]] as [unknown, number[]],
  );

  const field = (durable: string, name: string) => page.locator(`tr[data-consumer="${durable}/"] td[data-field="${name}"]`);
  const text = async (durable: string, name: string) => (await field(durable, name).textContent())?.trim();

  assert.equal(await text('billing', 'filters'), 'orders.*, refunds.>');
  assert.equal(await text('billing', 'pending'), '7');
  assert.equal(await text('billing', 'ack-pending'), '3');
  assert.equal(await text('billing', 'redelivered'), '1');
  assert.equal(await text('billing', 'dead-lettered'), '2');
  assert.equal(await field('billing', 'dead-lettered').locator('a').getAttribute('href'), '#/dead-letters/orders.dead');
  assert.equal(await text('billing', 'lag'), '1 min 5 s');
  assert.deepEqual(await field('billing', 'positions').locator('li').allTextContents(), [
    'orders.eu ack floor 4 · delivered 8 · last 10',
    'orders.us ack floor 2 · delivered 2 · last 6',
  ]);
  assert.equal(await field('billing', 'positions').locator('a').first().getAttribute('href'), '#/subject/orders.eu');

  assert.equal((await page.locator('tr[data-consumer="billing/"] td.trend polyline').getAttribute('points'))?.split(' ').length, 3);

  assert.equal(await text('audit', 'lag'), '850 ms');
  assert.equal(await text('slow', 'lag'), '2 d 3 h');
  // No message waits: no lag. No dead-letter subject: the count, without a link.
  assert.equal(await text('idle', 'lag'), '—');
  assert.equal(await text('idle', 'dead-lettered'), '5');
  assert.equal(await field('idle', 'dead-lettered').locator('a').count(), 0);
  assert.equal(await page.locator('#configured-consumers th').count(), 9);
});
