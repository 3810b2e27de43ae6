import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * @simplewebauthn/browser's bundle, served from this site (no CDN: `script-src 'self'`), read from
 * the installed package once, when first asked.
 */
export function registerWebauthnScript(app: FastifyInstance) {
  let body: Promise<Buffer> | undefined;
  const load = () => {
    // The package exports its entry only; its UMD bundle sits beside it in the installed tree.
    const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
    return readFile(join(dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js'));
  };
  app.get('/static/webauthn/simplewebauthn-browser.js', async (_request, reply) => {
    body ??= load();
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(await body);
  });
}
