import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { buildOnce, runMts } from '../testing/mts-process.js';
import { egressClient, ingressClient } from '../testing/test-services.js';
import { launchChromium } from '../testing/chromium.js';
import { selfSigned } from '../testing/self-signed.js';
import { createTestKeys } from '../testing/test-tokens.js';
import { screenshot, screenshotDir } from './screenshot.js';
import { startWithDashboard } from './test-dashboard.js';

// The page is checked against the compiled mts, as a user runs it.
before(() => buildOnce());

const encode = (text: string) => new TextEncoder().encode(text);

test('the dashboard over a real server: overview, browser, views, live tail, publish, consumers, theme', async (t) => {
  // Lag samples every 100 ms instead of 30 s, so the trend moves while the test watches.
  const services = await startWithDashboard(t, {}, { lagSampleMs: 100 });
  const ingress = ingressClient(services);
  const egress = egressClient(services);
  const browser = await launchChromium(t);
  const page = await browser.newPage({ colorScheme: 'light', viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  t.diagnostic(`screenshots in ${screenshotDir}`);

  await t.test('/ui is served with caching headers and a content security policy', async () => {
    const redirect = await fetch(`${services.egress.url}/ui`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    const index = await fetch(`${services.egress.url}/ui/`);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const policy = index.headers.get('content-security-policy') ?? '';
    assert.match(policy, /default-src 'none'/);
    assert.ok(policy.includes(`connect-src 'self' ${services.ingress.url}`), policy);
    const script = /src="(app-[^"]+\.js)"/.exec(await index.text())![1]!;
    const asset = await fetch(`${services.egress.url}/ui/${script}`);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    assert.equal(asset.headers.get('content-encoding'), 'gzip');
    assert.equal(asset.headers.get('vary'), 'Origin, accept-encoding');
    const plain = await fetch(`${services.egress.url}/ui/${script}`, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.equal(await plain.text(), await asset.text());
    assert.equal((await fetch(`${services.egress.url}/ui/missing.js`)).status, 404);
  });

  await t.test('the overview lists subjects published by another client', async () => {
    await ingress.publish({ subject: 'orders.created', data: encode('{"id":1}'), headers: {} });
    await ingress.publish({ subject: 'orders.created', data: encode('{"id":2}'), headers: {} });
    await ingress.publish({ subject: 'billing.invoices', data: encode('x'), headers: {} });
    await page.goto(`${services.egress.url}/ui/`);
    const row = page.locator('tr[data-subject="orders.created"]');
    await row.waitFor();
    assert.equal(await row.locator('td').nth(1).textContent(), '2');
    await page.locator('#subject-filter').fill('billing');
    await page.locator('tr[data-subject="orders.created"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('tr[data-subject="billing.invoices"]').count(), 1);
    await page.locator('#subject-filter').fill('');
    await row.waitFor();
    await page.locator('.health li.ok').first().waitFor();
    await screenshot(page, 'overview');
  });

  const subject = 'sensors.readings';
  await ingress.publishBatch({
    messages: Array.from({ length: 50 }, (_, index) => ({
      subject,
      data: encode(JSON.stringify({ reading: index + 1, unit: 'celsius', tags: ['a', 'b'] })),
      headers: { 'content-type': 'application/json' },
    })),
  });

  await t.test('the browser jumps to a sequence and pages both ways; JSON and hex views', async () => {
    await page.goto(`${services.egress.url}/ui/#/subject/${subject}`);
    await page.locator('#messages tr[data-sequence="50"]').waitFor();
    await page.locator('#jump-sequence').fill('25');
    await page.locator('#jump-sequence').press('Enter');
    await page.locator('#messages tbody tr').first().and(page.locator('[data-sequence="25"]')).waitFor();
    assert.equal(await page.locator('#messages tbody tr').count(), 20);
    await page.locator('#page-older').click();
    await page.locator('#messages tbody tr').last().and(page.locator('[data-sequence="24"]')).waitFor();
    await page.locator('#page-newer').click();
    await page.locator('#messages tbody tr').first().and(page.locator('[data-sequence="25"]')).waitFor();
    await page.locator('#jump-sequence').fill('999');
    await page.locator('#jump-sequence').press('Enter');
    await page.locator('#page-note', { hasText: 'No messages there' }).waitFor();
    assert.equal(await page.locator('#messages tbody tr').first().getAttribute('data-sequence'), '25');

    await page.locator('#messages tr[data-sequence="25"]').click();
    const detail = page.locator('.message-detail');
    await detail.locator('h3', { hasText: '#25' }).waitFor();
    assert.equal(await detail.locator('button[data-mode="json"]').getAttribute('aria-pressed'), 'true');
    await detail.locator('.json-leaf', { hasText: '"reading": 25' }).waitFor();
    await detail.locator('.headers', { hasText: 'application/json' }).waitFor();
    await screenshot(page, 'subject');
    await detail.locator('button[data-mode="hex"]').click();
    const hex = await detail.locator('pre.payload').textContent();
    assert.match(hex!, /^00000000  7b 22 72 65 61 64 69 6e 67 22/);
    await detail.locator('button[data-mode="base64"]').click();
    assert.equal(
      await detail.locator('pre.payload').textContent(),
      Buffer.from(JSON.stringify({ reading: 25, unit: 'celsius', tags: ['a', 'b'] })).toString('base64'),
    );
  });

  // The command-line client, as a user would run it next to the page.
  const mts = async (args: string[]) => {
    const result = await runMts([...args, '--ingress', services.ingress.url, '--egress', services.egress.url]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.toString();
  };

  await t.test('the live tail shows a message published by mts', async (t) => {
    await page.locator('#tail-state', { hasText: 'following from #51' }).waitFor();
    const published = performance.now();
    assert.equal((await mts(['publish', subject, '--data', 'tail me'])).trim(), '51');
    await page.locator('#tail tr[data-sequence="51"]', { hasText: 'tail me' }).waitFor({ timeout: 10_000 });
    // Includes starting the mts process; reported, not asserted.
    t.diagnostic(`shown in the live tail ${Math.round(performance.now() - published)} ms after mts started publishing`);
  });

  await t.test('a message published from the page is there for mts fetch', async () => {
    const form = page.locator('form.publish-form');
    await form.locator('select[name="format"]').selectOption('json');
    await form.locator('textarea[name="payload"]').fill('{"from": "page"');
    await form.locator('button[type="submit"]').click();
    await form.locator('[role="status"]', { hasText: 'not JSON' }).waitFor();
    await form.locator('textarea[name="payload"]').fill('{"from": "page"}');
    await form.locator('button[type="submit"]').click();
    await form.locator('[role="status"]', { hasText: `published to ${subject} as #52` }).waitFor();
    const fetched = (await mts(['fetch', subject, '--durable', 'page-check', '--batch', '100', '--json']))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { sequence: string; text?: string; headers: Record<string, string> });
    const fromPage = fetched.find((message) => message.sequence === '52');
    assert.equal(fromPage?.text, '{"from": "page"}');
    assert.equal(fromPage?.headers['content-type'], 'application/json');
  });

  await t.test('a file and a re-published message reach another subject', async () => {
    const form = page.locator('form.publish-form');
    await form.locator('input[name="subject"]').fill('sensors.files');
    await form.locator('select[name="format"]').selectOption('file');
    await form
      .locator('input[type="file"]')
      .setInputFiles({ name: 'bytes.bin', mimeType: 'application/octet-stream', buffer: Buffer.from([0, 1, 2, 255]) });
    await form.locator('button[type="submit"]').click();
    await form.locator('[role="status"]', { hasText: 'published to sensors.files as #1' }).waitFor();
    const [file] = (await egress.browse({ subject: 'sensors.files' })).messages;
    assert.deepEqual([...file!.data], [0, 1, 2, 255]);

    const republish = page.locator('.message-detail form.republish');
    await republish.locator('input[name="subject"]').fill('sensors.copy');
    await republish.locator('button[type="submit"]').click();
    await republish.locator('[role="status"]', { hasText: 'published to sensors.copy as #1' }).waitFor();
    const [copy] = (await egress.browse({ subject: 'sensors.copy' })).messages;
    assert.equal(new TextDecoder().decode(copy!.data), JSON.stringify({ reading: 25, unit: 'celsius', tags: ['a', 'b'] }));
    assert.equal(copy!.headers['content-type'], 'application/json');
  });

  await t.test('the browser jumps to a time', async () => {
    // #53 goes into a later second than #52, as the time field has whole seconds (bounded wait for the clock).
    const secondAfter = Math.floor(Date.now() / 1000) * 1000 + 1000;
    for (const deadline = Date.now() + 5000; Date.now() < secondAfter && Date.now() < deadline;) await delay(10);
    assert.equal((await ingress.publish({ subject, data: encode('{"later": true}'), headers: {} })).sequence, 53n);
    const local = await page.evaluate(
      (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19),
      secondAfter,
    );
    await page.locator('#jump-time').fill(local);
    await page.locator('#jump-time').press('Enter');
    await page.locator('#messages tbody tr').first().and(page.locator('[data-sequence="53"]')).waitFor();
    assert.equal(await page.locator('#messages tbody tr').count(), 1);
  });

  await t.test('the consumers page shows pending messages and resets a position', async () => {
    await egress.ackMessage({ subject, durableName: 'reporting', sequence: 40n });
    await egress.createConsumer({ config: { durableName: 'workers', filterSubjects: ['orders.*'] } });
    await page.goto(`${services.egress.url}/ui/#/consumers`);
    const configured = page.locator('tr[data-consumer="workers/"]');
    await configured.locator('td', { hasText: 'orders.*' }).waitFor();
    assert.equal(await configured.locator('button').count(), 0, 'a configured consumer has no position to reset');
    const row = page.locator(`tr[data-consumer="reporting/${subject}"]`);
    await row.locator('td', { hasText: '13' }).waitFor();
    // The trend rises to 13 pending: stopped at 40 while 53 are published (samples are kept by egress).
    const trendPoints = () => row.locator('td.trend polyline').getAttribute('points');
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && ((await trendPoints()) ?? '').split(' ').length < 2;)
      await delay(50);
    assert.ok(((await trendPoints()) ?? '').split(' ').length >= 2, 'the trend has at least two samples');
    await page.reload();
    await row.locator('td.trend polyline[points*=" "]').waitFor({ state: 'attached' });
    await screenshot(page, 'consumers');
    await row.locator('input').fill('10');
    await row.locator('button', { hasText: 'Reset' }).click();
    await row.locator('td', { hasText: '43' }).waitFor();
    assert.equal((await egress.getConsumerInfo({ subject, durableName: 'reporting' })).ackFloor, 10n);
  });

  await t.test('errors show the gRPC code and message', async () => {
    await page.goto(`${services.egress.url}/ui/#/subject/${encodeURIComponent('bad subject')}`);
    await page.locator('#error', { hasText: /^invalid_argument: / }).waitFor();
  });

  await t.test('the theme follows the system and switches', async () => {
    const dark = await browser.newPage({ colorScheme: 'dark', viewport: { width: 1280, height: 900 } });
    await dark.goto(`${services.egress.url}/ui/`);
    await dark.locator('tr[data-subject="orders.created"]').waitFor();
    const background = () => dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(await background(), 'rgb(21, 23, 27)');
    await screenshot(dark, 'overview-dark');
    await dark.locator('#theme-switch').click();
    assert.equal(await dark.locator('#theme-switch').textContent(), 'Theme: light');
    assert.equal(await background(), 'rgb(247, 247, 248)');
    await dark.close();
  });

  assert.deepEqual(pageErrors, []);
});

test('with auth required the page asks for a token and uses it', async (t) => {
  const keys = createTestKeys(t);
  const services = await startWithDashboard(t, { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile });
  await services.store.publish([{ subject: 'secured.events', data: encode('x'), headers: {} }]);
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`${services.egress.url}/ui/`);
  await page.locator('#token-form').waitFor();
  await page.locator('#error', { hasText: /^unauthenticated: / }).waitFor();
  await page.locator('#token').fill(await keys.token());
  await page.locator('#token').press('Enter');
  await page.locator('tr[data-subject="secured.events"]').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('mts.token') !== null), true);
  const publish = page.locator('form.publish-form button[type="submit"]');
  await page.locator('form.publish-form input[name="subject"]').fill('secured.events');
  assert.equal(await publish.isEnabled(), true);
  await page.goto(`${services.egress.url}/ui/#/dead-letters`);
  assert.equal(await page.locator('#redrive-range button[type="submit"]').isEnabled(), true);
  await page.goto(`${services.egress.url}/ui/`);

  await page.locator('#token-button').click();
  await page.locator('#token').fill(await keys.token({ permissions: ['fetch', 'subscribe'] }));
  await page.locator('#token').press('Enter');
  await page.locator('tr[data-subject="secured.events"]').waitFor();
  await page.locator('form.publish-form input[name="subject"]').fill('secured.events');
  assert.equal(await publish.isDisabled(), true);
  assert.equal(await publish.getAttribute('title'), 'Publishing is disabled: the token lacks the publish permission');
  await screenshot(page, 'read-only-token');
  await page.goto(`${services.egress.url}/ui/#/dead-letters`);
  const redriveRange = page.locator('#redrive-range button[type="submit"]');
  await page.locator('#dead-letter-summary', { hasText: 'No configured consumer has a dead-letter subject.' }).waitFor();
  assert.equal(await redriveRange.isDisabled(), true);
  assert.equal(await redriveRange.getAttribute('title'), 'Redrive is disabled: the token lacks the admin permission');

  // Browsing needs fetch alone; the live tail also subscribe, and stops instead of asking again.
  await page.locator('#token-button').click();
  await page.locator('#token').fill(await keys.token({ permissions: ['fetch'] }));
  await page.locator('#token').press('Enter');
  await page.goto(`${services.egress.url}/ui/#/subject/secured.events`);
  await page.locator('#messages tr[data-sequence="1"]').waitFor();
  await page.locator('#tail-state', { hasText: /^stopped: permission_denied: / }).waitFor();
  assert.equal(await page.locator('#tail-toggle').textContent(), 'Follow');
});

test('the dashboard works over TLS: same RPCs, publish to the https ingress', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mts-ui-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = await selfSigned(dir, 'dashboard');
  const services = await startWithDashboard(t, { TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
  assert.match(services.egress.url, /^https:/);
  await services.store.publish([{ subject: 'tls.events', data: encode('over tls'), headers: {} }]);
  const browser = await launchChromium(t);
  // The certificate is self-signed for this test; everything else is as in production.
  const page = await browser.newPage({ ignoreHTTPSErrors: true });
  await page.goto(`${services.egress.url}/ui/#/subject/tls.events`);
  await page.locator('#messages tr[data-sequence="1"]', { hasText: 'over tls' }).waitFor();
  const form = page.locator('form.publish-form');
  await form.locator('textarea[name="payload"]').fill('back over tls');
  await form.locator('button[type="submit"]').click();
  await form.locator('[role="status"]', { hasText: 'published to tls.events as #2' }).waitFor();
  await page.locator('#tail tr[data-sequence="2"]', { hasText: 'back over tls' }).waitFor();
});
