import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Where `npm run build` writes the dashboard: dist/ui, beside dist/services
 * when this file runs compiled, under the repository when it runs from source (tsx).
 */
export const builtDashboardDir =
  [new URL('../../ui/', import.meta.url), new URL('../../dist/ui/', import.meta.url)]
    .map((url) => fileURLToPath(url))
    .find((dir) => fs.existsSync(path.join(dir, 'index.html'))) ?? fileURLToPath(new URL('../../ui/', import.meta.url));

/** The ingress port the page publishes to when UI_INGRESS_URL is not set. */
const defaultIngressPort = 50051;

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface DashboardOptions {
  /** The built page: index.html and content-hashed assets. */
  dir: string;
  /** UI_INGRESS_URL; undefined means this origin when it serves ingress too, else the request's host on port 50051. */
  ingressUrl: string | undefined;
}

/**
 * The dashboard at /ui: static files read (and gzipped) once at start, index.html and
 * /ui/config.json never cached, hashed assets cached for good, and a
 * content security policy that lets the page reach only this origin and
 * the ingress it publishes to.
 */
export function dashboardRoutes({ dir, ingressUrl }: DashboardOptions): (app: FastifyInstance) => void {
  const files = readBuiltFiles(dir);
  let servesIngress: boolean | undefined;
  const ingressFor = (request: FastifyRequest) => {
    if (ingressUrl !== undefined) return ingressUrl;
    // `npm start` serves ingress on every port: the page then publishes to its own origin.
    servesIngress ??= request.server.hasRoute({ method: 'POST', url: '/minitoolstream.IngressService/Publish' });
    return servesIngress ? `${request.protocol}://${request.host}` : `${request.protocol}://${request.hostname}:${defaultIngressPort}`;
  };
  const secure = (request: FastifyRequest, reply: FastifyReply) =>
    reply
      .header(
        'content-security-policy',
        [
          "default-src 'none'",
          "script-src 'self'",
          "style-src 'self'",
          "img-src 'self' data:",
          `connect-src 'self' ${ingressFor(request)}`,
          "base-uri 'none'",
          "form-action 'none'",
          "frame-ancestors 'none'",
        ].join('; '),
      )
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer');

  return (app) => {
    app.get('/ui', (_request, reply) => reply.redirect('/ui/'));
    app.get('/ui/config.json', (request, reply) =>
      secure(request, reply)
        .header('cache-control', 'no-cache')
        .send({ ingressUrl: ingressFor(request) }),
    );
    app.get('/ui/*', (request, reply) => {
      const name = (request.params as { '*': string })['*'] || 'index.html';
      if (files === undefined) return reply.code(404).type('text/plain').send('the dashboard is not built: run npm run build\n');
      const file = files.get(name);
      if (file === undefined) return reply.code(404).type('text/plain').send('not found\n');
      const gzip = /\bgzip\b/.test(request.headers['accept-encoding'] ?? '');
      // Every asset but the page itself carries a content hash in its name.
      const cache = name === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable';
      if (gzip) reply.header('content-encoding', 'gzip');
      return (
        secure(request, reply)
          .header('cache-control', cache)
          // Added to CORS's `vary: Origin`, not in its place.
          .header('vary', [reply.getHeader('vary'), 'accept-encoding'].filter(Boolean).join(', '))
          .type(contentTypes[path.extname(name)] ?? 'application/octet-stream')
          .send(gzip ? file.gzip : file.raw)
      );
    });
  };
}

/** File name to contents, also gzipped once here; undefined when the folder does not exist (not built). */
function readBuiltFiles(dir: string): Map<string, { raw: Buffer; gzip: Buffer }> | undefined {
  if (!fs.existsSync(dir)) return undefined;
  return new Map(
    fs.readdirSync(dir).map((name) => {
      const raw = fs.readFileSync(path.join(dir, name));
      return [name, { raw, gzip: gzipSync(raw, { level: 9 }) }];
    }),
  );
}
