import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { startTestServices } from '../testing/test-services.js';
import type { ProtocolResult } from './page-clients.js';

// Flags for a root, offline machine: no sandbox, no background calls home.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Serves one page (on its own origin, so every RPC is a CORS request) that loads the bundled clients. */
async function servePage(t: test.TestContext, script: string): Promise<string> {
  const server = http.createServer((request, response) => {
    if (request.url === '/clients.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/clients.js"></script>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  // localhost vs 127.0.0.1: a different origin from the services.
  return `http://localhost:${(server.address() as AddressInfo).port}/`;
}

test('a real browser publishes, subscribes, fetches and acks over Connect and gRPC-Web', async (t) => {
  const services = await startTestServices(t);
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./page-clients.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
  });
  const pageUrl = await servePage(t, bundle.outputFiles[0]!.text);

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(pageUrl);
  await page.waitForFunction(() => 'runClients' in globalThis);
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
