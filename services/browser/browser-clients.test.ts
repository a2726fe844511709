import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openPage } from '../testing/browser-page.js';
import { startTestServices } from '../testing/test-services.js';
import type { ProtocolResult } from './page-clients.js';

test('a real browser publishes, subscribes, fetches and acks over Connect and gRPC-Web', async (t) => {
  const services = await startTestServices(t);
  const page = await openPage(t, fileURLToPath(new URL('./page-clients.ts', import.meta.url)), 'runClients');
  const results = (await page.evaluate(
    ([ingressUrl, egressUrl]) =>
      (globalThis as unknown as { runClients(a: string, b: string): Promise<unknown> }).runClients(ingressUrl!, egressUrl!),
    [services.ingress.url, services.egress.url],
  )) as Record<string, ProtocolResult>;

  for (const protocol of ['connect', 'grpcweb']) {
    const subject = `browser.${protocol}`;
    assert.deepEqual(
      results[protocol],
      {
        sequence: '1',
        notified: '1',
        fetched: [{ sequence: '1', text: `hello from ${subject}`, contentType: 'text/plain' }],
        fetchedAfterAck: [],
        emptySubjectCode: 'InvalidArgument',
      },
      protocol,
    );
  }
});
