import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.ts';
import { html } from '../web/html.ts';
import { errorSummary } from '../web/layout.ts';
import type { Ui } from '../web/request-context.ts';
import { type AuditFilter, listAudit, operatorActor, recordAudit } from './audit-log.ts';
import { consolePage, dateTime, kindKey } from './console-page.ts';
import type { Guarded } from './console-routes.ts';

const AUDITOR = ['auditor'] as const;
const PAGE = 100;
const EXPORT_MAX = 100_000;
const ID = /^[A-Za-z0-9_:.-]{1,100}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

type Query = Record<string, string | undefined>;

/** The filters from the query string, or the fields that are not valid (nothing is run then). */
export function readFilter(query: Query): { ok: true; filter: AuditFilter } | { ok: false; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const filter: AuditFilter = {};
  for (const [name, key] of [['conta', 'citizenId'], ['operador', 'operatorId'], ['servico', 'clientId'], ['tipo', 'kind'], ['antes', 'before']] as const) {
    const value = query[name]?.trim();
    if (!value) continue;
    if (!ID.test(value) || (name === 'antes' && !/^\d{1,19}$/.test(value))) errors[name] = 'console.audit.filter_invalid';
    else filter[key] = value;
  }
  for (const [name, key, offset] of [['de', 'from', 0], ['ate', 'to', 1]] as const) {
    const value = query[name]?.trim();
    if (!value) continue;
    const at = DAY.test(value) ? new Date(`${value}T00:00:00-03:00`) : new Date(Number.NaN);
    if (Number.isNaN(at.getTime())) errors[name] = 'console.audit.date_invalid';
    else filter[key] = new Date(at.getTime() + offset * 86_400_000);
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, filter };
}

function filterForm(ui: Ui, query: Query, errors: Record<string, string>) {
  const { t } = ui;
  const input = (name: string, type = 'text') => html`<div class="field${errors[name] ? ' invalid' : ''}">
  <label for="f-${name}">${t(`console.audit.${name}`)}</label>
  ${errors[name] ? html`<p class="error" id="f-${name}-error">${t(errors[name]!)}</p>` : ''}
  <input id="f-${name}" name="${name}" type="${type}" value="${query[name] ?? ''}" maxlength="100"${errors[name] ? html` aria-invalid="true" aria-describedby="f-${name}-error"` : ''}>
</div>`;
  return html`${errorSummary(t, Object.fromEntries(Object.entries(errors).map(([k, v]) => [`f-${k}`, v])))}
<form method="get" action="/admin/auditoria" class="filters">
  ${input('conta')}${input('operador')}${input('servico')}${input('tipo')}${input('de', 'date')}${input('ate', 'date')}
  <button type="submit">${t('console.audit.filter')}</button>
</form>`;
}

/** The audit log (auditor): filtered, newest first, paged by id; the same filter exported as JSON lines. */
export function registerAuditRoutes(app: FastifyInstance, deps: { db: Db; guarded: Guarded }) {
  const { guarded, db } = deps;

  app.get(
    '/admin/auditoria',
    guarded(AUDITOR, async (request, _reply, { ui, operator }) => {
      const { t } = ui;
      const query = (request.query ?? {}) as Query;
      const read = readFilter(query);
      if (!read.ok) return consolePage(ui, operator, 400, t('console.nav.audit'), filterForm(ui, query, read.errors));
      const rows = await listAudit(db, { ...read.filter, limit: PAGE });
      const params = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => Boolean(e[1]) && e[0] !== 'antes' && e[0] !== 'lang'));
      const next = rows.length === PAGE ? new URLSearchParams([...params, ['antes', rows.at(-1)!.id]]) : undefined;
      return consolePage(
        ui,
        operator,
        200,
        t('console.nav.audit'),
        html`${filterForm(ui, query, {})}
<p><a class="button secondary" href="/admin/auditoria.jsonl?${params.toString()}" download>${t('console.audit.export')}</a></p>
${rows.length === 0
  ? html`<p>${t('console.audit.empty')}</p>`
  : html`<div class="table-wrap"><table>
<caption>${t('console.audit.caption')}</caption>
<thead><tr><th scope="col">${t('console.audit.at')}</th><th scope="col">${t('console.audit.kind')}</th><th scope="col">${t('console.audit.actor')}</th><th scope="col">${t('console.audit.conta')}</th><th scope="col">${t('console.audit.servico')}</th><th scope="col">${t('console.audit.reason')}</th></tr></thead>
<tbody>${rows.map(
      (r) => html`<tr><td>${dateTime(ui, r.at)}</td><td>${t(`console.kind.${kindKey(r.kind)}`)}</td><td>${r.actor}</td><td>${r.citizenId ? html`<a href="/admin/auditoria?conta=${encodeURIComponent(r.citizenId)}">${r.citizenId}</a>` : ''}</td><td>${r.clientId ?? ''}</td><td>${r.reason ?? ''}</td></tr>`,
    )}</tbody></table></div>`}
${next ? html`<p><a href="/admin/auditoria?${next.toString()}">${t('console.audit.older')}</a></p>` : ''}`,
      );
    }),
  );

  app.get(
    '/admin/auditoria.jsonl',
    guarded(AUDITOR, async (request, reply, { ui, operator }) => {
      const read = readFilter((request.query ?? {}) as Query);
      if (!read.ok) return consolePage(ui, operator, 400, ui.t('console.nav.audit'), filterForm(ui, (request.query ?? {}) as Query, read.errors));
      const lines: string[] = [];
      let before: string | undefined;
      while (lines.length < EXPORT_MAX) {
        const rows = await listAudit(db, { ...read.filter, ...(before ? { before } : {}), limit: 1000 });
        for (const r of rows) lines.push(JSON.stringify({ ...r, at: r.at.toISOString() }));
        if (rows.length < 1000) break;
        before = rows.at(-1)!.id;
      }
      await recordAudit(db, { actor: operatorActor(operator.citizenId), kind: 'audit.exported', detail: { rows: lines.length, filter: read.filter } });
      return reply
        .header('content-disposition', 'attachment; filename="auditoria.jsonl"')
        .type('application/jsonl; charset=utf-8')
        .send(lines.length ? `${lines.join('\n')}\n` : '');
    }),
  );
}
