import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium } from '../testing/chromium.js';
import { egressClient } from '../testing/test-services.js';
import { startWithDashboard } from './test-dashboard.js';

/** A name that resolves nowhere (.test is reserved): only the browser's mapping below reaches the services. */
const host = 'dashboard.test';

test('without UI_INGRESS_URL the page publishes to its own host on port 50051', async (t) => {
  const services = await startWithDashboard(t, {}, {}, () => ({}));
  const ingressPort = new URL(services.ingress.url).port;
  const egressPort = new URL(services.egress.url).port;
  // The documented default is the page's host on port 50051. Chromium sends that port to the
  // ingress on its ephemeral port (the Host and Origin headers stay as the page wrote them), so
  // the test needs no fixed port on the machine.
  const browser = await launchChromium(t, [`--host-resolver-rules=MAP ${host}:50051 127.0.0.1:${ingressPort}, MAP ${host} 127.0.0.1`]);
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const policyViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/.test(message.text())) policyViolations.push(message.text());
  });

  const origin = `http://${host}:${egressPort}`;
  const index = await page.goto(`${origin}/ui/#/subject/defaults.events`);
  assert.ok((await index!.headerValue('content-security-policy'))?.includes(`connect-src 'self' http://${host}:50051;`));
  assert.deepEqual(await page.evaluate(async () => (await fetch('config.json')).json()), { ingressUrl: `http://${host}:50051` });

  const form = page.locator('form.publish-form');
  await form.locator('textarea[name="payload"]').fill('to the default ingress');
  await form.locator('button[type="submit"]').click();
  await form.locator('[role="status"]', { hasText: 'published to defaults.events as #1' }).waitFor();
  const { messages } = await egressClient(services).browse({ subject: 'defaults.events', sequence: 1n, limit: 1 });
  assert.equal(new TextDecoder().decode(messages[0]!.data), 'to the default ingress');

  // The overview's health line reads the same default ingress's /readyz.
  await page.goto(`${origin}/ui/`);
  await page.locator('.health li.ok', { hasText: 'ingress: ready' }).waitFor();
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(policyViolations, []);
});
