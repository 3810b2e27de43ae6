import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html } from '../web/html.ts';
import type { Ui, UiFactory } from '../web/request-context.ts';
import { CONSOLE_CLIENT_ID, type ConsoleAuth, type Operator } from './console-auth.ts';
import { consolePage, SECTIONS } from './console-page.ts';
import type { Role } from './operator-store.ts';

export type Guarded = (
  roles: readonly Role[],
  handler: (request: FastifyRequest, reply: FastifyReply, ctx: { ui: Ui; operator: Operator }) => Promise<FastifyReply>,
) => (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

/**
 * The console's door: every route is wrapped by `guarded(roles, ...)`, which checks the session,
 * its freshness and level, and the role, on the server, before the handler runs. Anything else
 * (a citizen, an attendant at an auditor's page, an expired sign-in) gets a page that says so, or
 * the sign-in, and the handler never runs.
 */
export function createGuard(deps: { ui: UiFactory; auth: ConsoleAuth }): Guarded {
  return (roles, handler) => async (request, reply) => {
    const ui = deps.ui(request, reply);
    // Console pages are never cached by a browser or a proxy.
    reply.header('cache-control', 'no-store');
    const check = await deps.auth.check(request, reply, roles);
    if (check.ok) return handler(request, reply, { ui, operator: check.operator });
    if (check.why === 'sign_in') return reply.redirect(deps.auth.signInUrl(), 303);
    const key = `console.refused.${check.why}`;
    return ui.render(403, ui.t('console.refused.title'), html`<p>${ui.t(key)}</p><p><a href="/">${ui.t('error.home')}</a></p>`);
  };
}

export function registerConsoleRoutes(app: FastifyInstance, deps: { ui: UiFactory; guarded: Guarded; issuer: string }) {
  const { guarded } = deps;
  const everyRole = ['admin', 'attendant', 'auditor'] as const;

  app.get(
    '/admin',
    guarded(everyRole, async (_request, _reply, { ui, operator }) => {
      const { t } = ui;
      const sections = SECTIONS.filter((s) => s.roles.some((r) => operator.roles.includes(r)));
      return consolePage(
        ui,
        operator,
        200,
        t('console.home.title'),
        html`<p>${t('console.home.explain')}</p>
${sections.length ? html`<ul class="data-list">${sections.map((s) => html`<li class="data-item"><a href="${s.path}">${t(s.key)}</a></li>`)}</ul>` : html`<p>${t('console.home.nothing_yet')}</p>`}`,
      );
    }),
  );

  // The authorization response only matters for the session it leaves behind, as for /conta.
  app.get('/admin/callback', async (_request, reply) => reply.redirect('/admin', 303));

  app.get('/admin/sair', async (_request, reply) => {
    const end = new URL('/oidc/session/end', deps.issuer);
    end.search = new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, post_logout_redirect_uri: `${deps.issuer}/admin/saiu` }).toString();
    return reply.redirect(end.href, 303);
  });

  app.get('/admin/saiu', async (request, reply) => {
    const ui = deps.ui(request, reply);
    return ui.render(200, ui.t('logout.done_title'), html`<p>${ui.t('logout.done')}</p><p><a href="/admin">${ui.t('console.sign_in_again')}</a></p>`);
  });
}
