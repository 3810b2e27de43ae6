import type { FastifyInstance } from 'fastify';
import type { ConsentStore } from '../consent/consent-store.ts';
import type { Db } from '../db/database.ts';
import { html } from '../web/html.ts';
import { csrfField } from '../web/layout.ts';
import type { UiFactory } from '../web/request-context.ts';
import { accountNav } from './account-sections.ts';
import { type AccountSession, actionContext } from './account-session.ts';
import { formatDay } from './privacy-pages.ts';

type Deps = { db: Db; ui: UiFactory; consents: ConsentStore; account: AccountSession };

/**
 * The services that receive the citizen's data, what each receives, and withdrawing a consent:
 * asked once more on a page of its own (what stops, what stays), then named in the message after.
 */
export function registerServicesRoutes(app: FastifyInstance, deps: Deps) {
  const { ui, consents, account } = deps;

  /** The live consent with this service, with the service's name; undefined for any other id. */
  async function liveWith(citizenId: string, clientId: string) {
    return (await consents.live(citizenId)).find((c) => c.client_id === clientId);
  }

  app.get('/conta/servicos', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    const u = ui(request, reply);
    const { t } = u;
    const live = await consents.live(me.citizen.id);
    const query = request.query as Record<string, string>;
    // The service just revoked, named from the consent records (never from the address's text).
    const revoked =
      typeof query.revogado === 'string'
        ? (await consents.history(me.citizen.id))
            .filter((r) => r.clientId === query.revogado && r.action === 'revoked')
            .at(-1)
        : undefined;
    const writeRevoked =
      typeof query.escrita === 'string' ? await liveWith(me.citizen.id, query.escrita) : undefined;
    return u.render(
      200,
      t('account.section.services'),
      html`${accountNav(t, 'servicos')}
${revoked ? html`<p class="notice" role="status">${t('account.revoked_named', { service: revoked.serviceName ?? revoked.clientId })}</p>` : ''}
${writeRevoked ? html`<p class="notice" role="status">${t('account.write_revoked_named', { service: writeRevoked.name })}</p>` : ''}
<p>${t('account.services_explain')}</p>
${
  live.length === 0
    ? html`<p>${t('account.no_services')}</p>`
    : html`<ul class="data-list">${live.map(
        (c) => html`<li class="data-item">
  <h2 class="data-name">${c.name}${c.client_type !== 'confidential' ? html` <span class="tag">${t(`service.kind.${c.client_type}`)}</span>` : ''}</h2>
  ${c.description ? html`<p>${c.description}</p>` : ''}
  <p>${t('account.receives')}: ${c.fields_shared.length ? c.fields_shared.map((k) => t(`field.${k}.label`)).join(', ') : t('account.receives_nothing')}</p>
  <p class="hint">${t('account.since', { date: formatDay(c.granted_at, u.locale) })}${c.terms_version ? html` · ${t('privacy.terms_version', { version: c.terms_version })}` : ''}</p>
  ${
    c.write_back
      ? html`<p>${t('account.may_write')}</p>
  <form method="post" action="/conta/servicos/${c.client_id}/escrita/revogar">
    ${csrfField(u.csrf())}
    <button type="submit" class="secondary">${t('account.revoke_write', { service: c.name })}</button>
  </form>`
      : ''
  }
  <form method="get" action="/conta/servicos/${c.client_id}/revogar">
    <button type="submit" class="secondary">${t('account.revoke', { service: c.name })}</button>
  </form>
</li>`,
      )}</ul>`
}`,
    );
  });

  app.get<{ Params: { clientId: string } }>('/conta/servicos/:clientId/revogar', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    const u = ui(request, reply);
    const { t } = u;
    const live = await liveWith(me.citizen.id, request.params.clientId);
    if (!live) return reply.redirect('/conta/servicos', 303);
    return u.render(
      200,
      t('account.revoke_confirm_title', { service: live.name }),
      html`${accountNav(t, 'servicos')}
<p>${t('account.revoke_confirm_explain')}</p>
<p>${t('account.receives')}: ${live.fields_shared.length ? live.fields_shared.map((k) => t(`field.${k}.label`)).join(', ') : t('account.receives_nothing')}</p>
<form method="post" action="/conta/servicos/${live.client_id}/revogar">
  ${csrfField(u.csrf())}
  <div class="actions">
    <button type="submit" class="danger">${t('account.revoke_confirm')}</button>
    <a class="button secondary" href="/conta/servicos">${t('account.revoke_keep')}</a>
  </div>
</form>`,
    );
  });

  // Withdrawing the whole consent, or only the write access: each a record with who and from where.
  for (const [path, withdraw, done] of [
    ['/conta/servicos/:clientId/revogar', consents.revoke, 'revogado'],
    ['/conta/servicos/:clientId/escrita/revogar', consents.revokeWrite, 'escrita'],
  ] as const) {
    app.post<{ Params: { clientId: string } }>(path, async (request, reply) => {
      const me = await account.signedIn(request, reply);
      if (!me) return account.signIn(reply);
      const context = actionContext(request, me);
      const changed = await deps.db
        .transaction()
        .execute((trx) =>
          withdraw(trx, { citizenId: me.citizen.id, clientId: request.params.clientId, context }),
        );
      const target = new URL('/conta/servicos', 'http://x');
      if (changed) target.searchParams.set(done, request.params.clientId);
      return reply.redirect(`${target.pathname}${target.search}`, 303);
    });
  }
}
