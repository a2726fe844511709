import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckKind, AckPolicy, type Message } from '../../gen/minitoolstream/egress_pb.js';
import { launchChromium } from '../testing/chromium.js';
import { egressClient, ingressClient } from '../testing/test-services.js';
import { within } from '../testing/within.js';
import { screenshot, screenshotDir } from './screenshot.js';
import { startWithDashboard } from './test-dashboard.js';

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (data: Uint8Array) => new TextDecoder().decode(data);

test('a configured consumer on the dashboard: ack pending, redelivered, lag, dead letters and their redrive', async (t) => {
  // Registered first, so it runs first: the stream ends before the services stop (node runs after-hooks in order).
  const closed = new AbortController();
  t.after(() => closed.abort());
  // Lag samples every 100 ms instead of 30 s, so the trend moves while the test watches.
  const services = await startWithDashboard(t, {}, { lagSampleMs: 100 });
  const ingress = ingressClient(services);
  const egress = egressClient(services);
  await egress.createConsumer({
    config: { durableName: 'billing', filterSubjects: ['orders.>'], ackPolicy: AckPolicy.EXPLICIT, deadLetterSubject: 'dead.orders' },
  });
  for (const text of ['first', 'second', 'third']) await ingress.publish({ subject: 'orders.eu', data: encode(text), headers: {} });

  // One Consume stream of the consumer, read frame by frame (heartbeats skipped).
  const frames = egress.consume({ durableName: 'billing', maxBatch: 10 }, { signal: closed.signal })[Symbol.asyncIterator]();
  const nextMessages = async (): Promise<Message[]> => {
    for (;;) {
      const frame = await within(frames.next(), 30_000, 'a frame of the Consume stream');
      assert.ok(!frame.done, 'the stream stays open');
      if (frame.value.messages.length > 0) return frame.value.messages;
    }
  };
  const settle = (sequence: bigint, kind: AckKind) =>
    egress.ackMessages({ durableName: 'billing', acks: [{ subject: 'orders.eu', sequence, kind }] });

  assert.deepEqual(
    (await nextMessages()).map((message) => decode(message.data)),
    ['first', 'second', 'third'],
  );
  await settle(1n, AckKind.ACK);
  await settle(2n, AckKind.TERM);
  await settle(3n, AckKind.NAK);
  const [again] = await nextMessages();
  assert.equal(again!.sequence, 3n);

  const browser = await launchChromium(t);
  const page = await browser.newPage({ colorScheme: 'light', viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  t.diagnostic(`screenshots in ${screenshotDir}`);

  await t.test('the consumers page shows what the consumer holds, and its lag falls when it acks', async () => {
    await page.goto(`${services.egress.url}/ui/#/consumers`);
    const field = (name: string) => page.locator(`#configured-consumers tr[data-consumer="billing/"] td[data-field="${name}"]`);
    await field('ack-pending').filter({ hasText: /^1$/ }).waitFor();
    assert.equal(await field('redelivered').textContent(), '1');
    assert.equal(await field('dead-lettered').textContent(), '1');
    assert.equal(await field('pending').textContent(), '0');
    assert.match((await field('lag').textContent()) ?? '', /^\d/, 'the age of #3, delivered and not acked');
    assert.equal(await field('positions').locator('li').textContent(), 'orders.eu ack floor 2 · delivered 3 · last 3');
    await screenshot(page, 'consumers-configured');

    // Whether the trend's newest sample is 0 (y 17.0, the bottom: sparkline.ts); rows are redrawn on each poll.
    const trendEndsAtZero = (zero: boolean) =>
      page.waitForFunction(
        (zero) => {
          const points = document
            .querySelector('#configured-consumers tr[data-consumer="billing/"] td.trend polyline')
            ?.getAttribute('points');
          return points !== null && points !== undefined && points !== '' && points.split(' ').at(-1)!.endsWith(',17.0') === zero;
        },
        zero,
        { timeout: 10_000 },
      );
    await trendEndsAtZero(false);
    await settle(3n, AckKind.ACK);
    await field('lag').filter({ hasText: /^—$/ }).waitFor();
    await trendEndsAtZero(true);
    assert.equal(await field('ack-pending').textContent(), '0');
    assert.equal(await field('positions').locator('li').textContent(), 'orders.eu ack floor 3 · delivered 3 · last 3');
  });

  await t.test('the dead letters page shows where a dead letter came from and redrives it', async () => {
    await page.locator('a[title="Dead letters on dead.orders"]').click();
    const row = page.locator('#dead-letters tr[data-sequence="1"]');
    await row.waitFor();
    assert.equal(await page.locator('#dead-letter-subjects a[aria-current="page"]').textContent(), 'dead.orders');
    assert.equal(await row.locator('td[data-field="from"]').textContent(), 'orders.eu #2');
    assert.equal(await row.locator('td[data-field="consumer"]').textContent(), 'billing');
    assert.equal(await row.locator('td[data-field="reason"]').textContent(), 'term');
    assert.equal(await row.locator('td[data-field="deliveries"]').textContent(), '1');
    // The sequence cell: the middle of the row is the link to the original subject.
    await row.locator('td').first().click();
    await page.locator('.message-detail .headers', { hasText: 'minitoolstream-dead-letter-reason' }).waitFor();
    await screenshot(page, 'dead-letters');

    await row.locator('button', { hasText: 'Redrive' }).click();
    await page.locator('#redrive-status', { hasText: 'redriven: 1' }).waitFor();
    await row.waitFor({ state: 'detached' });
    const redriven = await nextMessages();
    assert.deepEqual(
      redriven.map((message) => [message.sequence, decode(message.data)]),
      [[4n, 'second']],
    );
    assert.equal(redriven[0]!.headers['minitoolstream-dead-letter-reason'], undefined);
  });

  await t.test('a range of dead letters is redriven from the form', async () => {
    // Dead letters 2-5: the redriven #4 of orders.eu again, then three of orders.us; the form moves 3-4 only.
    await settle(4n, AckKind.TERM);
    for (const text of ['fourth', 'fifth', 'sixth']) await ingress.publish({ subject: 'orders.us', data: encode(text), headers: {} });
    const delivered: Message[] = [];
    while (delivered.length < 3) delivered.push(...(await nextMessages()));
    for (const { subject, sequence } of delivered) {
      await egress.ackMessages({ durableName: 'billing', acks: [{ subject, sequence, kind: AckKind.TERM }] });
    }
    await page.locator('#dead-letters tr[data-sequence="5"]').waitFor();
    const form = page.locator('#redrive-range');
    await form.locator('input[name="from"]').fill('3');
    await form.locator('input[name="to"]').fill('4');
    await form.locator('button[type="submit"]').click();
    await page.locator('#redrive-status', { hasText: 'redriven: 2' }).waitFor();
    await page.locator('#dead-letters tr[data-sequence="3"]').waitFor({ state: 'detached' });
    assert.deepEqual(
      await page.locator('#dead-letters tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-sequence'))),
      ['2', '5'],
    );
    const { messages } = await egress.browse({ subject: 'orders.us', sequence: 4n, limit: 10 });
    assert.deepEqual(
      messages.map((message) => decode(message.data)),
      ['fourth', 'fifth'],
    );
  });

  assert.deepEqual(pageErrors, []);
});
