import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Brand } from '../config/brand-config.ts';
import { html } from './html.ts';
import { brandCss } from './layout.ts';
import type { UiFactory } from './request-context.ts';

const PUBLIC_DIR = new URL('../../public/', import.meta.url).pathname;
const TYPES: Record<string, string> = {
  svg: 'image/svg+xml',
  png: 'image/png',
  webp: 'image/webp',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  ico: 'image/x-icon',
};

export type PublicService = { clientId: string; name: string; description: string; homeUrl: string };

/**
 * The home page (what the account is, the city services that use it) and the deployment's
 * identity: its colours as a stylesheet, its assets folder at /marca/, its favicon.
 */
export function registerHomeRoutes(
  app: FastifyInstance,
  deps: { ui: UiFactory; brand: Brand; demo: boolean; publicServices: () => Promise<PublicService[]> },
) {
  const { brand } = deps;
  const css = brandCss(brand);
  app.get('/marca.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(css),
  );

  function asset(file: string): { body: Buffer; type: string } | undefined {
    const name = basename(file);
    const ext = name.split('.').pop()?.toLowerCase() ?? '';
    if (name !== file || !/^[\w.-]+$/.test(name) || !TYPES[ext] || !brand.dir) return undefined;
    const path = join(brand.dir, name);
    return existsSync(path) ? { body: readFileSync(path), type: TYPES[ext]! } : undefined;
  }
  app.get<{ Params: { file: string } }>('/marca/:file', async (request, reply) => {
    const found = asset(request.params.file);
    if (!found) return reply.callNotFound();
    return reply.type(found.type).header('cache-control', 'public, max-age=3600').send(found.body);
  });
  // The deployment's own favicon when its folder has one, otherwise Cidadela's.
  const favicon = asset('favicon.ico') ??
    asset('favicon.svg') ?? { body: readFileSync(join(PUBLIC_DIR, 'favicon.svg')), type: TYPES.svg! };
  app.get('/favicon.ico', async (_request, reply) =>
    reply.type(favicon.type).header('cache-control', 'public, max-age=86400').send(favicon.body),
  );

  app.get('/', async (request, reply) => {
    const u = deps.ui(request, reply);
    const services = await deps.publicServices();
    return u.render(
      200,
      brand.name,
      html`<p>${u.t('home.explain', { brand: brand.name })}</p>
<p>${u.t('home.what')}</p>
<div class="actions"><a class="button" href="/conta">${u.t('home.account')}</a>${deps.demo ? html`<a class="button secondary" href="/demo">${u.t('home.demo')}</a>` : ''}</div>
<h2>${u.t('home.services_title')}</h2>
${
  services.length
    ? html`<ul class="services">${services.map(
        (s) =>
          html`<li><p><a href="${s.homeUrl}">${s.name}</a></p>${s.description ? html`<p class="hint">${s.description}</p>` : ''}</li>`,
      )}</ul>`
    : html`<p>${u.t('home.services_none')}</p>`
}`,
    );
  });
}
