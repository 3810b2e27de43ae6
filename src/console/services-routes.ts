import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.ts';
import type { StreamStore } from '../events/stream-store.ts';
import type { ConsentScreen } from '../flows/consent/consent-flow.ts';
import { consentPage } from '../flows/consent/consent-page.ts';
import type { Citizen } from '../identity/citizen-store.ts';
import { createI18n, isLocale } from '../platform/i18n.ts';
import { AppError } from '../platform/errors.ts';
import type { ServiceStore } from '../services/service-store.ts';
import { html } from '../web/html.ts';
import { csrfField } from '../web/layout.ts';
import type { Ui } from '../web/request-context.ts';
import { operatorActor, recordAudit } from './audit-log.ts';
import type { Operator } from './console-auth.ts';
import { consolePage, dateTime } from './console-page.ts';
import type { Guarded } from './console-routes.ts';
import { formValuesOf, serviceForm, serviceInputFrom } from './service-form.ts';

const ADMIN = ['admin'] as const;
const FORM_FIELDS = new Set(['name', 'description', 'clientId', 'redirectUris', 'postLogoutRedirectUris', 'termsMarkdown', 'fields']);
type Body = Record<string, unknown>;
type Id = { Params: { id: string } };

/** A refusal of the service store as errors beside the form's fields, in the operator's language. */
function formErrors(ui: Ui, error: AppError): Record<string, string> {
  const details = (error.details as { details?: { field: string }[] } | undefined)?.details ?? [];
  const errors: Record<string, string> = {};
  for (const d of details) {
    const top = d.field.split('.')[0] ?? '';
    const name = FORM_FIELDS.has(top) ? top : 'name';
    errors[name] = ui.t(`console.services.error.${name}`);
  }
  if (error.code === 'service.exists') errors.clientId = ui.t('service.exists');
  if (Object.keys(errors).length === 0) errors.name = ui.t(error.code);
  return errors;
}

/** Services (admin): list with health, create, edit (refusing a stale save), secret, consent preview, queue. */
export function registerServicesRoutes(app: FastifyInstance, deps: { db: Db; guarded: Guarded; services: ServiceStore; streams: StreamStore }) {
  const { guarded, services, streams, db } = deps;
  const i18n = createI18n();
  const audit = (operator: Operator, kind: string, clientId: string, detail: Record<string, unknown> = {}) =>
    recordAudit(db, { actor: operatorActor(operator.citizenId), kind, clientId, detail });

  app.get(
    '/admin/servicos',
    guarded(ADMIN, async (_request, _reply, { ui, operator }) => {
      const { t } = ui;
      const list = (await services.list()).filter((s) => !s.firstParty);
      const health = await Promise.all(list.map((s) => streams.view(s.clientId)));
      return consolePage(
        ui,
        operator,
        200,
        t('console.nav.services'),
        html`<p><a class="button" href="/admin/servicos/novo">${t('console.services.new')}</a></p>
${list.length === 0
  ? html`<p>${t('console.services.none')}</p>`
  : html`<div class="table-wrap"><table><caption>${t('console.services.caption')}</caption>
<thead><tr><th scope="col">${t('console.services.name')}</th><th scope="col">client_id</th><th scope="col">${t('console.services.minTrustLevel')}</th><th scope="col">${t('console.services.backlog')}</th><th scope="col">${t('console.services.stream')}</th></tr></thead>
<tbody>${list.map((s, i) => {
      const h = health[i]!;
      const state = h.paused ? 'paused' : h.consecutiveFailures > 0 ? 'failing' : 'ok';
      return html`<tr><td><a href="/admin/servicos/${s.clientId}">${s.name}</a></td><td>${s.clientId}</td><td>${t(`level.${s.minTrustLevel}`)}</td><td><a href="/admin/servicos/${s.clientId}/fila">${h.depth}</a></td><td>${t(`console.services.state_${state}`)} (${h.method})</td></tr>`;
    })}</tbody></table></div>`}`,
      );
    }),
  );

  app.get(
    '/admin/servicos/novo',
    guarded(ADMIN, async (_request, _reply, { ui, operator }) =>
      consolePage(ui, operator, 200, ui.t('console.services.new'), serviceForm(ui, { action: '/admin/servicos/novo', values: {}, errors: {}, creating: true })),
    ),
  );

  app.post(
    '/admin/servicos/novo',
    guarded(ADMIN, async (request, _reply, { ui, operator }) => {
      const body = (request.body ?? {}) as Body;
      try {
        const { service, clientSecret } = await services.add(serviceInputFrom(body, true));
        await audit(operator, 'service.created', service.clientId);
        return secretPage(ui, operator, service.clientId, clientSecret, 201);
      } catch (error) {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        return consolePage(ui, operator, 400, ui.t('console.services.new'), serviceForm(ui, { action: '/admin/servicos/novo', values: body, errors: formErrors(ui, error), creating: true }));
      }
    }),
  );

  function secretPage(ui: Ui, operator: Operator, clientId: string, secret: string | null, status = 200) {
    const { t } = ui;
    return consolePage(
      ui,
      operator,
      status,
      t('console.services.secret_title'),
      html`<p>client_id: <code>${clientId}</code></p>
${secret ? html`<p>${t('console.services.secret_once')}</p><p><code class="secret">${secret}</code></p>` : html`<p>${t('console.services.no_secret')}</p>`}
<p><a href="/admin/servicos/${clientId}">${t('console.services.back')}</a></p>`,
    );
  }

  async function editPage(ui: Ui, operator: Operator, clientId: string, status = 200, notice?: string, values?: Body, errors: Record<string, string> = {}) {
    const { t } = ui;
    const service = await services.find(clientId);
    if (!service || service.firstParty) return consolePage(ui, operator, 404, t('console.nav.services'), html`<p>${t('service.not_found')}</p>`);
    const version = (await services.version(clientId))!;
    return consolePage(
      ui,
      operator,
      status,
      service.name,
      html`${notice ? html`<p class="notice" role="status">${t(notice)}</p>` : ''}
<p>client_id: <code>${service.clientId}</code> · ${t(`console.services.kind.${service.type}`)}</p>
<p>${t('console.services.preview')}: ${(['pt-BR', 'en', 'es'] as const).map((l, i) => html`${i ? ' · ' : ''}<a href="/admin/servicos/${clientId}/previa?idioma=${l}">${t(`console.language.${l}`)}</a>`)}</p>
<p><a href="/admin/servicos/${clientId}/fila">${t('console.services.queue')}</a></p>
${serviceForm(ui, { action: `/admin/servicos/${clientId}`, values: values ?? formValuesOf(service), errors, creating: false, version })}
${service.type === 'confidential' && service.tokenEndpointAuthMethod !== 'private_key_jwt'
  ? html`<h2>${t('console.services.rotate_title')}</h2><form method="post" action="/admin/servicos/${clientId}/segredo">${csrfField(ui.csrf())}<button type="submit" class="secondary">${t('console.services.rotate')}</button></form>`
  : ''}`,
    );
  }

  app.get<Id>('/admin/servicos/:id', guarded(ADMIN, async (request, _reply, { ui, operator }) => editPage(ui, operator, (request.params as { id: string }).id)));

  app.post<Id>(
    '/admin/servicos/:id',
    guarded(ADMIN, async (request, _reply, { ui, operator }) => {
      const { id } = request.params as { id: string };
      const body = (request.body ?? {}) as Body;
      const current = await services.find(id);
      if (!current || current.firstParty) return editPage(ui, operator, id);
      const version = typeof body.version === 'string' ? body.version : '';
      try {
        await services.update(id, serviceInputFrom(body, false), { ifVersion: version });
        await audit(operator, 'service.updated', id);
        return editPage(ui, operator, id, 200, 'console.services.saved');
      } catch (error) {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        // Saved by someone else since this form was read: nothing overwritten, the current values shown.
        if (error.code === 'service.changed') return editPage(ui, operator, id, 409, 'console.services.changed');
        return editPage(ui, operator, id, 400, undefined, body, formErrors(ui, error));
      }
    }),
  );

  app.post<Id>(
    '/admin/servicos/:id/segredo',
    guarded(ADMIN, async (request, _reply, { ui, operator }) => {
      const { id } = request.params as { id: string };
      const current = await services.find(id);
      if (!current || current.firstParty) return editPage(ui, operator, id);
      try {
        const secret = await services.rotateSecret(id);
        await audit(operator, 'service.secret_rotated', id);
        return secretPage(ui, operator, id, secret);
      } catch (error) {
        if (!(error instanceof AppError) || error.status >= 500) throw error;
        return editPage(ui, operator, id, 400, error.code);
      }
    }),
  );

  // The consent screen exactly as a citizen meets it (the same page function), for a citizen with
  // no values yet, in the language asked; shown inert inside the console.
  app.get<Id>(
    '/admin/servicos/:id/previa',
    guarded(ADMIN, async (request, _reply, { ui, operator }) => {
      const { id } = request.params as { id: string };
      const service = await services.find(id);
      if (!service || service.firstParty) return editPage(ui, operator, id);
      const asked = (request.query as Record<string, string | undefined>).idioma;
      const locale = isLocale(asked) ? asked : ui.locale;
      const screen: ConsentScreen = {
        service,
        citizen: {} as Citizen,
        values: {},
        need: { needed: true, reason: 'first', current: undefined, newFields: service.fields.map((f) => f.key), termsChanged: false } as unknown as ConsentScreen['need'],
        missing: [],
        form: {},
        shared: new Set(),
      };
      const preview: Ui = {
        ...ui,
        locale,
        t: i18n.translator(locale),
        render: (_status, title, body) =>
          consolePage(ui, operator, 200, ui.t('console.services.preview_of', { service: service.name }), html`<p class="notice">${ui.t('console.services.preview_explain')}</p>
<div class="preview" lang="${locale}" inert><h2>${title}</h2>${body}</div>
<p><a href="/admin/servicos/${id}">${ui.t('console.services.back')}</a></p>`),
      };
      return consentPage(preview, { uid: 'preview', screen });
    }),
  );

  app.get<Id>(
    '/admin/servicos/:id/fila',
    guarded(ADMIN, async (request, _reply, { ui, operator }) => queuePage(ui, operator, (request.params as { id: string }).id)),
  );

  async function queuePage(ui: Ui, operator: Operator, id: string, notice?: string, status = 200) {
    const { t } = ui;
    const service = await services.find(id);
    if (!service || service.firstParty) return consolePage(ui, operator, 404, t('console.nav.services'), html`<p>${t('service.not_found')}</p>`);
    const q = await streams.view(id);
    return consolePage(
      ui,
      operator,
      status,
      t('console.services.queue_of', { service: service.name }),
      html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<dl class="summary">
  <dt>${t('console.services.transport')}</dt><dd>${q.method}</dd>
  <dt>${t('console.services.backlog')}</dt><dd>${q.depth}</dd>
  <dt>${t('console.services.failed')}</dt><dd>${q.failedDeliveries}</dd>
  <dt>${t('console.services.last_delivery')}</dt><dd>${q.lastDeliveryAt ? dateTime(ui, new Date(q.lastDeliveryAt)) : '—'}</dd>
  <dt>${t('console.services.stream')}</dt><dd>${t(`console.services.state_${q.paused ? 'paused' : q.consecutiveFailures > 0 ? 'failing' : 'ok'}`)}${q.lastError ? html` — ${q.lastError}` : ''}</dd>
</dl>
${q.paused ? html`<form method="post" action="/admin/servicos/${id}/fila/retomar">${csrfField(ui.csrf())}<button type="submit">${t('console.services.resume')}</button></form>` : ''}
<h2>${t('console.services.replay_title')}</h2>
<form method="post" action="/admin/servicos/${id}/fila/reenviar" novalidate>${csrfField(ui.csrf())}
  <div class="field"><label for="since">${t('console.services.replay_since')}</label><input id="since" name="since" type="date" required></div>
  <button type="submit" class="secondary">${t('console.services.replay')}</button>
</form>
<p><a href="/admin/servicos/${id}">${t('console.services.back')}</a></p>`,
    );
  }

  app.post<Id>(
    '/admin/servicos/:id/fila/retomar',
    guarded(ADMIN, async (request, _reply, { ui, operator }) => {
      const { id } = request.params as { id: string };
      if (!(await services.find(id))) return queuePage(ui, operator, id);
      const resumed = await streams.resume(id);
      if (resumed) await audit(operator, 'service.queue_resumed', id);
      return queuePage(ui, operator, id, ui.t(resumed ? 'console.services.resumed' : 'console.unchanged'));
    }),
  );

  app.post<Id>(
    '/admin/servicos/:id/fila/reenviar',
    guarded(ADMIN, async (request, _reply, { ui, operator }) => {
      const { id } = request.params as { id: string };
      if (!(await services.find(id))) return queuePage(ui, operator, id);
      const since = String((request.body as Body | undefined)?.since ?? '');
      const at = /^\d{4}-\d{2}-\d{2}$/.test(since) ? new Date(`${since}T00:00:00-03:00`) : new Date(Number.NaN);
      if (Number.isNaN(at.getTime()) || at.getTime() > Date.now()) return queuePage(ui, operator, id, ui.t('console.audit.date_invalid'), 400);
      const replayed = await streams.replay(id, at);
      await audit(operator, 'service.queue_replayed', id, { since, replayed });
      return queuePage(ui, operator, id, ui.t('console.services.replayed', { count: replayed }));
    }),
  );
}
