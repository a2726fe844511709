import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium } from '../testing/chromium.js';
import { ingressClient } from '../testing/test-services.js';
import { startWithDashboard } from './test-dashboard.js';

const subjectCount = 1000;
const tailMessages = 2000;
const tailBatch = 100;

// Behaviour is asserted; the figures are reported (t.diagnostic) for the notes, never compared.
test('the overview renders 1,000 subjects and the live tail keeps up with a burst', async (t) => {
  const services = await startWithDashboard(t);
  const ingress = ingressClient(services);
  for (let first = 0; first < subjectCount; first += 200) {
    const messages = Array.from({ length: 200 }, (_, index) => ({
      subject: `fleet.truck${String(first + index).padStart(4, '0')}`,
      data: new TextEncoder().encode('{"speed": 80}'),
      headers: {},
    }));
    await ingress.publishBatch({ messages });
  }
  const browser = await launchChromium(t);
  const page = await browser.newPage();

  const started = performance.now();
  await page.goto(`${services.egress.url}/ui/`);
  await page.locator(`tr[data-subject="fleet.truck${String(subjectCount - 1).padStart(4, '0')}"]`).waitFor();
  const renderMs = performance.now() - started;
  assert.equal(await page.locator('#subjects tbody tr').count(), subjectCount);
  t.diagnostic(`overview with ${subjectCount} subjects: first render ${renderMs.toFixed(0)} ms after navigation`);

  const subject = 'fleet.burst';
  await ingress.publish({ subject, data: new TextEncoder().encode('0'), headers: {} });
  await page.goto(`${services.egress.url}/ui/#/subject/${subject}`);
  await page.locator('#tail-state', { hasText: 'following from #2' }).waitFor();
  const burstStarted = performance.now();
  for (let sent = 0; sent < tailMessages; sent += tailBatch) {
    const messages = Array.from({ length: tailBatch }, (_, index) => ({
      subject,
      data: new TextEncoder().encode(`message ${sent + index}`),
      headers: {},
    }));
    await ingress.publishBatch({ messages });
  }
  const publishedMs = performance.now() - burstStarted;
  await page.locator(`#tail tr[data-sequence="${tailMessages + 1}"]`).waitFor({ timeout: 60_000 });
  const shownMs = performance.now() - burstStarted;
  assert.equal(await page.locator('#tail tbody tr').count(), 200, 'the tail keeps its newest 200 rows');
  t.diagnostic(
    `live tail: ${tailMessages} messages published in ${publishedMs.toFixed(0)} ms, all shown after ${shownMs.toFixed(0)} ms ` +
      `(${((tailMessages / shownMs) * 1000).toFixed(0)} messages/s kept up with)`,
  );
});
