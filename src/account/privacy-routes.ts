import type { FastifyInstance } from 'fastify';
import type { ConsentStore } from '../consent/consent-store.ts';
import type { Db } from '../db/database.ts';
import { retryAfter } from '../flows/interaction-kit.ts';
import type { Citizen } from '../identity/citizen-store.ts';
import type { DeletionRequests } from '../identity/deletion-requests.ts';
import { enqueueMail } from '../messaging/message-queue.ts';
import type { PasswordSignIn } from '../methods/password/password-sign-in.ts';
import { personalDataExport } from '../personal-data.ts';
import { formatClock } from '../platform/i18n.ts';
import { html } from '../web/html.ts';
import { csrfField, errorSummary, field } from '../web/layout.ts';
import type { Ui, UiFactory } from '../web/request-context.ts';
import { accountNav } from './account-sections.ts';
import type { AccountSession } from './account-session.ts';
import { type Delivery, exportTables, fieldsInDelivery, formatDay, historyTable } from './privacy-pages.ts';

type Deps = {
  db: Db;
  ui: UiFactory;
  consents: ConsentStore;
  deletions: DeletionRequests;
  passwordSignIn: PasswordSignIn;
  mailQueued: () => void;
  account: AccountSession;
};

/** Where a deletion code can go: the proven e-mail, else the proven mobile number. */
function codeChannel(c: Citizen): 'email' | 'sms' | undefined {
  return c.email && c.emailVerified ? 'email' : c.phoneNumber && c.phoneNumberVerified ? 'sms' : undefined;
}

const BASIS = 'Lei 13.709/2018 (LGPD), art. 18';

/**
 * The citizen's rights over their data, by themselves (LGPD art. 18): the history of every consent,
 * revocation and sharing; everything kept about them (a page to read or print, and JSON); and the
 * deletion of the account, with a grace period to undo it (decision 28).
 */
export function registerPrivacyRoutes(app: FastifyInstance, deps: Deps) {
  const { ui, account, consents, deletions } = deps;

  async function deliveries(citizenId: string): Promise<Delivery[]> {
    const rows = await deps.db
      .selectFrom('event_deliveries as d')
      .leftJoin('services as s', 's.client_id', 'd.client_id')
      .select(['s.name', 'd.client_id', 'd.event_type', 'd.payload', 'd.created_at'])
      .where('d.citizen_id', '=', citizenId)
      .orderBy('d.id')
      .execute();
    return rows.map((r) => ({
      service: r.name ?? r.client_id,
      eventType: r.event_type,
      fields: fieldsInDelivery(r.payload),
      at: r.created_at,
    }));
  }

  app.get('/conta/privacidade', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    const u = ui(request, reply);
    const { t } = u;
    const pending = await deletions.pending(me.citizen.id);
    return u.render(
      200,
      t('account.section.privacy'),
      html`${accountNav(t, 'privacidade')}
<p>${t('privacy.explain')}</p>
<h2>${t('privacy.history_title')}</h2>
<p>${t('privacy.history_explain')}</p>
<p><a class="button secondary" href="/conta/privacidade/historico">${t('privacy.history_open')}</a></p>
<h2>${t('privacy.export_title')}</h2>
<p>${t('privacy.export_explain')}</p>
<div class="actions">
  <a class="button secondary" href="/conta/privacidade/meus-dados">${t('privacy.export_html')}</a>
  <a class="button secondary" href="/conta/privacidade/meus-dados.json" download>${t('privacy.export_json')}</a>
</div>
<h2>${t('privacy.delete_title')}</h2>
${
  pending
    ? html`<div class="notice warning" role="status"><p>${t('privacy.delete_pending', { date: formatDay(pending.dueAt, u.locale) })}</p>
<form method="post" action="/conta/privacidade/excluir/cancelar">${csrfField(u.csrf())}<button type="submit">${t('privacy.delete_cancel')}</button></form></div>`
    : html`<p>${t('privacy.delete_explain_short')}</p>
<p><a class="button danger" href="/conta/privacidade/excluir">${t('privacy.delete_open')}</a></p>`
}`,
    );
  });

  app.get('/conta/privacidade/historico', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    const u = ui(request, reply);
    const { t } = u;
    const [records, sent] = await Promise.all([consents.history(me.citizen.id), deliveries(me.citizen.id)]);
    return u.render(
      200,
      t('privacy.history_title'),
      html`${accountNav(t, 'privacidade')}
<p>${t('privacy.history_explain')}</p>
${historyTable(t, u.locale, records, sent)}
<p><a href="/conta/consentimentos.json" download>${t('account.history_download')}</a></p>`,
    );
  });

  app.get('/conta/privacidade/meus-dados', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    const u = ui(request, reply);
    const { t } = u;
    const data = await personalDataExport(deps.db, me.citizen.id);
    return u.render(
      200,
      t('privacy.export_page_title'),
      html`<div class="no-print">${accountNav(t, 'privacidade')}</div>
<p>${t('privacy.export_page_explain', { date: formatDay(new Date(), u.locale) })}</p>
<p class="no-print"><a href="/conta/privacidade/meus-dados.json" download>${t('privacy.export_json')}</a></p>
${exportTables(t, data.sections, Object.fromEntries(Object.keys(data.omitted).map((k) => [k, t(`export.omitted.${k}`)])))}`,
    );
  });

  app.get('/conta/privacidade/meus-dados.json', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return reply.status(401).send({ error: 'not_signed_in' });
    const data = await personalDataExport(deps.db, me.citizen.id);
    return reply
      .header('content-disposition', 'attachment; filename="meus-dados.json"')
      .header('cache-control', 'no-store')
      .type('application/json; charset=utf-8')
      .send({
        citizen: { sub: me.citizen.id },
        generatedAt: new Date().toISOString(),
        basis: BASIS,
        data: Object.fromEntries(data.sections.map((s) => [s.table, s.rows])),
        notExported: data.omitted,
      });
  });

  app.get('/conta/consentimentos.json', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return reply.status(401).send({ error: 'not_signed_in' });
    const history = await consents.history(me.citizen.id);
    return reply
      .header('content-disposition', 'attachment; filename="consentimentos.json"')
      .type('application/json; charset=utf-8')
      .send({
        citizen: { sub: me.citizen.id },
        generatedAt: new Date().toISOString(),
        basis: 'Lei 13.709/2018 (LGPD), art. 8 §2 e art. 18 VII',
        records: history,
      });
  });

  function deleteForm(
    u: Ui,
    status: number,
    codeTo: 'email' | 'sms' | undefined,
    error?: string,
    params?: Record<string, string>,
  ) {
    const { t } = u;
    const errors: Record<string, string> = error ? { password: error } : {};
    return u.render(
      status,
      t('privacy.delete_title'),
      html`${accountNav(t, 'privacidade')}
${errorSummary((key) => t(key, params), errors)}
<p>${t('privacy.delete_what')}</p>
<ul>
  <li>${t('privacy.delete_item_data')}</li>
  <li>${t('privacy.delete_item_services')}</li>
  <li>${t('privacy.delete_item_sign_in')}</li>
</ul>
<h2>${t('privacy.kept_title')}</h2>
<p>${t('privacy.kept_explain')}</p>
<ul>
  <li>${t('privacy.kept_consents')}</li>
  <li>${t('privacy.kept_id')}</li>
  <li>${t('privacy.kept_services')}</li>
</ul>
<h2>${t('privacy.grace_title')}</h2>
<p>${t('privacy.grace_explain', { days: deps.deletions.graceDays })}</p>
<form method="post" action="/conta/privacidade/excluir" novalidate>
  ${csrfField(u.csrf())}
  ${field({ t: (key) => t(key, params), name: 'password', label: t('privacy.delete_password'), hint: t('privacy.delete_password_hint'), type: 'password', value: '', error, autocomplete: 'current-password', maxlength: 1000 })}
  <div class="actions">
    <button type="submit" class="danger">${t('privacy.delete_confirm')}</button>
    <a class="button secondary" href="/conta/privacidade">${t('privacy.delete_keep')}</a>
  </div>
</form>
${
  codeTo
    ? html`<h2>${t('privacy.delete_code_title')}</h2>
<form method="post" action="/conta/privacidade/excluir/codigo">
  ${csrfField(u.csrf())}
  <p>${t(codeTo === 'email' ? 'privacy.delete_code_email' : 'privacy.delete_code_sms')} <button type="submit" class="secondary">${t('privacy.delete_code_send')}</button></p>
</form>`
    : ''
}`,
    );
  }

  app.get('/conta/privacidade/excluir', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    if (await deletions.pending(me.citizen.id)) return reply.redirect('/conta/privacidade', 303);
    return deleteForm(ui(request, reply), 200, codeChannel(me.citizen));
  });

  app.post<{ Body: Record<string, unknown> }>('/conta/privacidade/excluir', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    const u = ui(request, reply);
    const raw = typeof request.body?.password === 'string' ? request.body.password : '';
    if (!raw) return deleteForm(u, 422, codeChannel(me.citizen), 'privacy.delete_password_required');
    // A password longer than any the policy accepts is wrong without hashing 10 KB of it.
    if (raw.length > 1000)
      return deleteForm(u, 401, codeChannel(me.citizen), 'privacy.delete_password_wrong');
    const { citizen } = me;
    // The same check as a sign-in, throttled with it: a browser left open is not enough.
    const checked = await deps.passwordSignIn.attempt({
      identifier: citizen.cpf ?? citizen.email ?? citizen.phoneNumber ?? '',
      password: raw,
      ip: request.ip,
    });
    if (!checked.ok) {
      if (checked.code === 'login.throttled') {
        retryAfter(reply, checked.retryAt);
        return deleteForm(u, 429, codeChannel(me.citizen), 'login.throttled', {
          time: formatClock(checked.retryAt, u.locale),
        });
      }
      return deleteForm(u, 401, codeChannel(me.citizen), 'privacy.delete_password_wrong');
    }
    if (checked.citizen.id !== citizen.id)
      return deleteForm(u, 401, codeChannel(me.citizen), 'privacy.delete_password_wrong');
    await deps.db.transaction().execute(async (trx) => {
      const scheduled = await deletions.request(trx, citizen.id, 'password');
      // The mailbox hears of it too: whoever asked, the owner can still undo it.
      if (citizen.email)
        await enqueueMail(trx, {
          to: citizen.email,
          subject: u.t('mail.account_deletion.subject'),
          text: u.t('mail.account_deletion.body', { date: formatDay(scheduled.dueAt, u.locale) }),
        });
    });
    deps.mailQueued();
    return reply.redirect('/conta/privacidade', 303);
  });

  app.post('/conta/privacidade/excluir/cancelar', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    await deps.db.transaction().execute((trx) => deletions.cancel(trx, me.citizen.id));
    return reply.redirect('/conta?exclusao=cancelada', 303);
  });
}
