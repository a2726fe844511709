import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openPage } from '../testing/browser-page.js';
import { startTestServices } from '../testing/test-services.js';
import type { TextModeResult } from './grpc-web-text-page.js';

test('the official grpc-web client in text mode publishes and fetches from Chromium', async (t) => {
  const services = await startTestServices(t);
  const page = await openPage(t, fileURLToPath(new URL('./grpc-web-text-page.ts', import.meta.url)), 'runTextMode');
  const contentTypes = new Set<string>();
  page.on('request', (request) => {
    if (request.method() === 'POST') contentTypes.add(`request ${request.headers()['content-type']}`);
  });
  page.on('response', (response) => {
    if (response.request().method() === 'POST') contentTypes.add(`response ${response.headers()['content-type']}`);
  });
  const size = 100_001;
  const result = (await page.evaluate(
    ([ingressUrl, egressUrl, count]) =>
      (globalThis as unknown as { runTextMode(a: string, b: string, s: string, n: number): Promise<unknown> }).runTextMode(
        ingressUrl as string,
        egressUrl as string,
        'browser.text',
        count as number,
      ),
    [services.ingress.url, services.egress.url, size],
  )) as TextModeResult;

  assert.deepEqual(result, {
    sequence: '1',
    fetched: [{ sequence: '1', size, sameBytes: true }],
    // INVALID_ARGUMENT, in the trailer the client decoded from base64.
    emptySubjectCode: 3,
  });
  assert.deepEqual([...contentTypes].sort(), ['request application/grpc-web-text', 'response application/grpc-web-text+proto']);
});
