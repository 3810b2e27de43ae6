import type { FastifyInstance, FastifyReply } from 'fastify';
import { formatCpf } from '../identity/cpf.ts';
import { html, type SafeHtml } from '../web/html.ts';
import { csrfField, errorSummary } from '../web/layout.ts';
import type { Ui } from '../web/request-context.ts';
import type { Operator } from './console-auth.ts';
import { consolePage, dateTime, kindKey, readReason, reasonField } from './console-page.ts';
import type { Guarded } from './console-routes.ts';
import { DOCUMENT_TYPES, type DocumentType, exactIdentifier, type SupportDesk } from './support-desk.ts';

const ATTENDANT = ['attendant'] as const;
type Body = Record<string, unknown>;
type Params = { Params: { id: string } };
const str = (v: unknown) => (typeof v === 'string' ? v : '');

function searchForm(ui: Ui, values: Body = {}, errors: Record<string, string> = {}): SafeHtml {
  const { t } = ui;
  const by = str(values.by) || 'cpf';
  return html`${errorSummary(t, errors)}
<form method="post" action="/admin/atendimento/busca" novalidate>
  ${csrfField(ui.csrf())}
  <fieldset><legend>${t('console.search.by')}</legend>
  ${(['cpf', 'email', 'phone'] as const).map(
    (k) => html`<div class="choice"><input type="radio" id="by-${k}" name="by" value="${k}"${by === k ? html` checked` : ''}><label for="by-${k}">${t(`console.search.by_${k}`)}</label></div>`,
  )}
  </fieldset>
  <div class="field${errors.value ? ' invalid' : ''}">
    <label for="value">${t('console.search.value')}</label>
    <p class="hint" id="value-hint">${t('console.search.value_hint')}</p>
    ${errors.value ? html`<p class="error" id="value-error">${t(errors.value)}</p>` : ''}
    <input id="value" name="value" type="text" autocomplete="off" required maxlength="254" value="${str(values.value)}" aria-describedby="value-hint${errors.value ? ' value-error' : ''}"${errors.value ? html` aria-invalid="true"` : ''}>
  </div>
  ${reasonField(ui, errors.reason, str(values.reason))}
  <button type="submit">${t('console.search.submit')}</button>
</form>`;
}

/** The support desk (attendant): exact search, one account's summary, and what may be done to it. */
export function registerSupportRoutes(app: FastifyInstance, deps: { guarded: Guarded; desk: SupportDesk }) {
  const { guarded, desk } = deps;

  app.get(
    '/admin/atendimento',
    guarded(ATTENDANT, async (_request, _reply, { ui, operator }) =>
      consolePage(ui, operator, 200, ui.t('console.nav.support'), html`<p>${ui.t('console.search.explain')}</p>${searchForm(ui)}`),
    ),
  );

  app.post(
    '/admin/atendimento/busca',
    guarded(ATTENDANT, async (request, reply, { ui, operator }) => {
      const body = (request.body ?? {}) as Body;
      const errors: Record<string, string> = {};
      const key = exactIdentifier(body.by, body.value);
      if (!key.ok) errors.value = key.error;
      const reason = readReason(body.reason);
      if (!reason.ok) errors.reason = reason.error;
      if (!key.ok || !reason.ok) {
        return consolePage(ui, operator, 400, ui.t('console.nav.support'), searchForm(ui, body, errors));
      }
      const found = await desk.search(operator.citizenId, key.key, reason.reason);
      if (found) return reply.redirect(`/admin/atendimento/contas/${encodeURIComponent(found.id)}`, 303);
      return consolePage(
        ui,
        operator,
        404,
        ui.t('console.nav.support'),
        html`<p class="notice" role="status">${ui.t('console.search.none')}</p>${searchForm(ui, { by: body.by })}`,
      );
    }),
  );

  async function accountPage(ui: Ui, operator: Operator, reply: FastifyReply, id: string, status = 200, notice?: string, errors: Record<string, string> = {}, values: Body = {}) {
    const { t } = ui;
    if (!(await desk.searchedRecently(operator.citizenId, id))) {
      return consolePage(ui, operator, 403, t('console.nav.support'), html`<p>${t('console.account.search_first')}</p><p><a href="/admin/atendimento">${t('console.nav.support')}</a></p>`);
    }
    const summary = await desk.summary(id);
    if (!summary) return consolePage(ui, operator, 404, t('console.nav.support'), html`<p>${t('console.search.none')}</p>`);
    const { citizen, identifiers, services, levels, verified, actions, security } = summary;
    const label = (key: string, fallback: string) => (t(key) === key ? fallback : t(key));
    const base = `/admin/atendimento/contas/${encodeURIComponent(id)}`;
    const inPersonFields = verified.filter((v) => v.trustFramework === 'cidadela_presencial');
    return consolePage(
      ui,
      operator,
      status,
      citizen.socialName ?? citizen.name,
      html`${notice ? html`<p class="notice" role="status">${t(notice)}</p>` : ''}${errorSummary(t, errors)}
<dl class="summary">
  <dt>${t('console.account.status')}</dt><dd>${t(`console.status.${citizen.status}`)}</dd>
  <dt>${t('console.account.level')}</dt><dd>${t(`level.${citizen.trustLevel}`)}</dd>
  ${citizen.cpf ? html`<dt>CPF</dt><dd>${formatCpf(citizen.cpf)}</dd>` : ''}
</dl>
<h2>${t('console.account.channels')}</h2>
<ul class="data-list">${identifiers.filter((i) => i.kind !== 'cpf').map((i) => html`<li class="data-item">${i.value} — ${t(i.verified ? 'console.account.verified' : 'console.account.not_verified')}</li>`)}</ul>
<h2>${t('console.account.services')}</h2>
${services.length ? html`<ul class="data-list">${services.map((s) => html`<li class="data-item">${s.name} — ${dateTime(ui, new Date(s.granted_at))}</li>`)}</ul>` : html`<p>${t('account.no_services')}</p>`}
<h2>${t('console.account.security')}</h2>
${security.length
  ? html`<ul class="data-list">${security.map((e) => html`<li class="data-item">${dateTime(ui, e.at)}: ${t(`security.kind.${e.kind}`)} — ${label(`security.result.${e.kind}.${e.result}`, e.result)}${e.method ? html` (${label(`security.method.${e.method.replaceAll('-', '_')}`, e.method)})` : ''}${e.serviceName ? html` — ${e.serviceName}` : ''}${e.browser ? html` — ${e.browser}${e.system ? html`, ${e.system}` : ''}` : ''}</li>`)}</ul>`
  : html`<p>${t('console.account.no_history')}</p>`}
<h2>${t('console.account.history')}</h2>
${actions.length || levels.length ? html`<ul class="data-list">${levels.map((l) => html`<li class="data-item">${dateTime(ui, l.changedAt)}: ${t(`level.${l.from}`)} → ${t(`level.${l.to}`)} (${l.reason})</li>`)}${actions.map((a) => html`<li class="data-item">${dateTime(ui, a.at)}: ${t(`console.kind.${kindKey(a.kind)}`)}${a.reason ? html` — ${a.reason}` : ''}</li>`)}</ul>` : html`<p>${t('console.account.no_history')}</p>`}

<h2>${t('console.in_person.title')}</h2>
<p>${t('console.in_person.explain')}</p>
<form method="post" action="${base}/presencial" novalidate>
  ${csrfField(ui.csrf())}
  <div class="field${errors.documentType ? ' invalid' : ''}">
    <label for="documentType">${t('console.in_person.document_type')}</label>
    ${errors.documentType ? html`<p class="error" id="documentType-error">${t(errors.documentType)}</p>` : ''}
    <select id="documentType" name="documentType" required>${DOCUMENT_TYPES.map((d) => html`<option value="${d}"${values.documentType === d ? html` selected` : ''}>${t(`console.document.${d}`)}</option>`)}</select>
  </div>
  <div class="field${errors.documentNumber ? ' invalid' : ''}">
    <label for="documentNumber">${t('console.in_person.document_number')}</label>
    ${errors.documentNumber ? html`<p class="error" id="documentNumber-error">${t(errors.documentNumber)}</p>` : ''}
    <input id="documentNumber" name="documentNumber" type="text" autocomplete="off" required maxlength="30" value="${str(values.documentNumber)}"${errors.documentNumber ? html` aria-invalid="true" aria-describedby="documentNumber-error"` : ''}>
  </div>
  <div class="field${errors.counter ? ' invalid' : ''}">
    <label for="counter">${t('console.in_person.counter')}</label>
    ${errors.counter ? html`<p class="error" id="counter-error">${t(errors.counter)}</p>` : ''}
    <input id="counter" name="counter" type="text" autocomplete="off" required maxlength="100" value="${str(values.counter)}"${errors.counter ? html` aria-invalid="true" aria-describedby="counter-error"` : ''}>
  </div>
  <button type="submit">${t('console.in_person.submit')}</button>
</form>
${citizen.trustLevel === 'prata' && inPersonFields.length
  ? html`<h2>${t('console.lower.title')}</h2><form method="post" action="${base}/rebaixar" novalidate>${csrfField(ui.csrf())}${reasonField(ui)}<button type="submit" class="secondary">${t('console.lower.submit')}</button></form>`
  : ''}
<h2>${t(citizen.status === 'active' ? 'console.disable.title' : 'console.enable.title')}</h2>
<form method="post" action="${base}/${citizen.status === 'active' ? 'desativar' : 'ativar'}" novalidate>
  ${csrfField(ui.csrf())}
  ${reasonField(ui, errors.reason)}
  <button type="submit" class="secondary">${t(citizen.status === 'active' ? 'console.disable.submit' : 'console.enable.submit')}</button>
</form>`,
    );
  }

  app.get<Params>(
    '/admin/atendimento/contas/:id',
    guarded(ATTENDANT, async (request, reply, { ui, operator }) => accountPage(ui, operator, reply, (request.params as { id: string }).id)),
  );

  for (const [action, to] of [['desativar', 'disabled'], ['ativar', 'active']] as const) {
    app.post<Params>(
      `/admin/atendimento/contas/:id/${action}`,
      guarded(ATTENDANT, async (request, reply, { ui, operator }) => {
        const { id } = request.params as { id: string };
        if (!(await desk.searchedRecently(operator.citizenId, id))) return accountPage(ui, operator, reply, id);
        const reason = readReason((request.body as Body | undefined)?.reason);
        if (!reason.ok) return accountPage(ui, operator, reply, id, 400, undefined, { reason: reason.error });
        const result = await desk.setStatus(operator.citizenId, id, to, reason.reason);
        return accountPage(ui, operator, reply, id, result === 'not_found' ? 404 : 200, result === 'done' ? `console.${action === 'desativar' ? 'disable' : 'enable'}.done` : 'console.unchanged');
      }),
    );
  }

  app.post<Params>(
    '/admin/atendimento/contas/:id/presencial',
    guarded(ATTENDANT, async (request, reply, { ui, operator }) => {
      const { id } = request.params as { id: string };
      if (!(await desk.searchedRecently(operator.citizenId, id))) return accountPage(ui, operator, reply, id);
      const body = (request.body ?? {}) as Body;
      const errors: Record<string, string> = {};
      const documentType = str(body.documentType);
      const documentNumber = str(body.documentNumber).trim();
      const counter = str(body.counter).trim();
      if (!(DOCUMENT_TYPES as readonly string[]).includes(documentType)) errors.documentType = 'console.in_person.document_type_required';
      if (!/^[A-Za-z0-9./ -]{3,30}$/.test(documentNumber)) errors.documentNumber = 'console.in_person.document_number_invalid';
      if (counter.length < 2 || counter.length > 100) errors.counter = 'console.in_person.counter_required';
      if (Object.keys(errors).length) return accountPage(ui, operator, reply, id, 400, undefined, errors, body);
      const result = await desk.verifyInPerson(operator.citizenId, id, { documentType: documentType as DocumentType, documentNumber, counter });
      return accountPage(ui, operator, reply, id, result === 'done' ? 200 : 409, result === 'done' ? 'console.in_person.done' : 'console.in_person.not_active');
    }),
  );

  app.post<Params>(
    '/admin/atendimento/contas/:id/rebaixar',
    guarded(ATTENDANT, async (request, reply, { ui, operator }) => {
      const { id } = request.params as { id: string };
      if (!(await desk.searchedRecently(operator.citizenId, id))) return accountPage(ui, operator, reply, id);
      const reason = readReason((request.body as Body | undefined)?.reason);
      if (!reason.ok) return accountPage(ui, operator, reply, id, 400, undefined, { reason: reason.error });
      const result = await desk.lowerInPerson(operator.citizenId, id, reason.reason);
      return accountPage(ui, operator, reply, id, result === 'done' ? 200 : 409, result === 'done' ? 'console.lower.done' : 'console.lower.not_prata');
    }),
  );
}
