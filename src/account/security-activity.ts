import type { FastifyInstance } from 'fastify';
import type { SecurityEvent } from '../identity/security-events.ts';
import type { Translate } from '../platform/i18n.ts';
import { html } from '../web/html.ts';
import { backToSecurity, browserLabel, type SecurityDeps, when } from './security-routes.ts';

/** How a method or strategy id reads to the citizen (an unknown one as itself). */
function methodLabel(t: Translate, method: string | null): string {
  if (!method) return '—';
  return method
    .split('+')
    .map((m) => {
      const key = `security.method.${m}`;
      const label = t(key);
      return label === key ? m : label;
    })
    .join(' + ');
}

function resultLabel(t: Translate, e: SecurityEvent): string {
  const key = `security.result.${e.kind}.${e.result}`;
  const label = t(key);
  return label === key ? e.result : label;
}

/**
 * The recent sign-ins and recovery attempts, from the security record: when, which service, how,
 * and what came of it; from which browser and address.
 */
export function registerActivityRoutes(app: FastifyInstance, deps: SecurityDeps) {
  app.get('/conta/seguranca/atividade', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const { t } = ui;
    const events = await deps.securityEvents.recentFor(me.citizen.id, {
      kinds: ['sign_in', 'recovery'],
      limit: 50,
    });
    return ui.render(
      200,
      t('security.activity_title'),
      html`${backToSecurity(t)}
<p>${t('security.activity_explain')}</p>
${
  events.length === 0
    ? html`<p>${t('security.activity_none')}</p>`
    : html`<ul class="data-list">${events.map(
        (e) => html`<li class="data-item">
  <p class="data-name"><strong>${t(`security.kind.${e.kind}`)}: ${resultLabel(t, e)}</strong></p>
  <p><time datetime="${e.at.toISOString()}">${when(ui, e.at)}</time></p>
  <p>${t('security.activity_how', { method: methodLabel(t, e.method), service: e.serviceName ?? (e.clientId ? e.clientId : t('security.activity_no_service')) })}</p>
  <p class="hint">${browserLabel(t, e.browser, e.system)} · ${e.ip ?? '—'}</p>
</li>`,
      )}</ul>`
}
<p>${t('security.activity_not_you')} <a href="/conta/seguranca/senha">${t('security.password_title')}</a></p>`,
    );
  });
}
