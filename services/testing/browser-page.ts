import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { launchChromium } from './chromium.js';

/** Serves one page (on its own origin, so every RPC is a CORS request) that loads the bundled script. */
async function servePage(t: TestContext, script: string): Promise<string> {
  const server = http.createServer((request, response) => {
    if (request.url === '/page.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/page.js"></script>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  // localhost vs 127.0.0.1: a different origin from the services.
  return `http://localhost:${(server.address() as AddressInfo).port}/`;
}

/**
 * Chromium (Debian's, or CHROMIUM_PATH) on a page that runs `entryPoint`
 * bundled by esbuild, once the page has defined `globalName`.
 */
export async function openPage(t: TestContext, entryPoint: string, globalName: string): Promise<Page> {
  const bundle = await build({ entryPoints: [entryPoint], bundle: true, format: 'esm', platform: 'browser', write: false });
  const pageUrl = await servePage(t, bundle.outputFiles[0]!.text);
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(pageUrl);
  await page.waitForFunction((name) => name in globalThis, globalName);
  return page;
}
