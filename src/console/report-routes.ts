import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.ts';
import type { ServiceStore } from '../services/service-store.ts';
import { html, type SafeHtml } from '../web/html.ts';
import type { Ui } from '../web/request-context.ts';
import { consolePage } from './console-page.ts';
import type { Guarded } from './console-routes.ts';
import { levelDistribution, registrationsBetween, usageBetween } from './usage.ts';

const READERS = ['admin', 'auditor'] as const;
const METHODS = ['password', 'certificate', 'code', 'sso'] as const;
const COLUMNS = [...METHODS.map((m) => `signin_${m}`), 'unique_citizens', 'registrations'] as const;

type Month = { month: string; from: string; to: string; days: string[] };

function readMonth(value: string | undefined, now = new Date()): Month | undefined {
  const month = value ?? new Date(now.getTime() - 3 * 3600_000).toISOString().slice(0, 7);
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) return undefined;
  const [y, m] = month.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const days = Array.from({ length: last }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`);
  return { month, from: days[0]!, to: days.at(-1)!, days };
}

/** The month's table: one row per day, one column per counter (the overall rows use client_id ''). */
async function monthTable(db: Db, clientId: string, period: Month) {
  const [usage, registrations] = await Promise.all([
    usageBetween(db, clientId, period.from, period.to),
    clientId === '' ? registrationsBetween(db, period.from, period.to) : Promise.resolve(new Map<string, number>()),
  ]);
  const byDay = new Map(period.days.map((d) => [d, Object.fromEntries(COLUMNS.map((c) => [c, 0])) as Record<string, number>]));
  for (const r of usage) if (byDay.has(r.day) && r.metric in byDay.get(r.day)!) byDay.get(r.day)![r.metric] = r.n;
  for (const [day, n] of registrations) if (byDay.has(day)) byDay.get(day)!.registrations = n;
  return period.days.map((day) => ({ day, counts: byDay.get(day)! }));
}

/** Daily sign-ins as bars, drawn here: readable with no script, described for screen readers. */
function barChart(ui: Ui, rows: { day: string; total: number }[]): SafeHtml {
  const width = 620;
  const height = 180;
  const max = Math.max(1, ...rows.map((r) => r.total));
  const bar = (width - 40) / rows.length;
  const total = rows.reduce((a, r) => a + r.total, 0);
  const label = ui.t('console.reports.chart_label', { total, max });
  return html`<svg class="chart" viewBox="0 0 ${width} ${height + 30}" role="img" aria-label="${label}" xmlns="http://www.w3.org/2000/svg">
<title>${label}</title>
<line x1="30" y1="${height}" x2="${width}" y2="${height}" stroke="#555"/>
<text x="0" y="12" font-size="11" fill="#222">${max}</text><text x="0" y="${height}" font-size="11" fill="#222">0</text>
${rows.map((r, i) => {
  const h = Math.round((r.total / max) * (height - 10));
  return html`<rect x="${(32 + i * bar).toFixed(1)}" y="${height - h}" width="${Math.max(1, bar - 2).toFixed(1)}" height="${h}" fill="#1565c0"><title>${r.day}: ${r.total}</title></rect>`;
})}
<text x="32" y="${height + 20}" font-size="11" fill="#222">${rows[0]?.day ?? ''}</text><text x="${width - 70}" y="${height + 20}" font-size="11" fill="#222">${rows.at(-1)?.day ?? ''}</text>
</svg>`;
}

/** Usage reports (admin, auditor): a month per service or overall, a chart, the table, its CSV. */
export function registerReportRoutes(app: FastifyInstance, deps: { db: Db; guarded: Guarded; services: ServiceStore }) {
  const { guarded, db } = deps;

  async function read(query: Record<string, string | undefined>) {
    const period = readMonth(query.mes?.trim() || undefined);
    const clientId = query.servico?.trim() ?? '';
    const services = (await deps.services.list()).filter((s) => !s.firstParty);
    const known = clientId === '' || services.some((s) => s.clientId === clientId);
    return { period, clientId, services, known };
  }

  app.get(
    '/admin/relatorios',
    guarded(READERS, async (request, _reply, { ui, operator }) => {
      const { t } = ui;
      const { period, clientId, services, known } = await read(request.query as Record<string, string | undefined>);
      const form = html`<form method="get" action="/admin/relatorios" class="filters">
  <div class="field"><label for="servico">${t('console.reports.service')}</label><select id="servico" name="servico"><option value="">${t('console.reports.all')}</option>${services.map((s) => html`<option value="${s.clientId}"${s.clientId === clientId ? html` selected` : ''}>${s.name}</option>`)}</select></div>
  <div class="field${period ? '' : ' invalid'}"><label for="mes">${t('console.reports.month')}</label>${period ? '' : html`<p class="error" id="mes-error">${t('console.reports.month_invalid')}</p>`}<input id="mes" name="mes" type="month" value="${period?.month ?? ''}"${period ? '' : html` aria-invalid="true" aria-describedby="mes-error"`}></div>
  <button type="submit">${t('console.reports.show')}</button>
</form>`;
      if (!period || !known) return consolePage(ui, operator, 400, t('console.nav.reports'), html`${form}${known ? '' : html`<p class="error" role="alert">${t('service.not_found')}</p>`}`);
      const rows = await monthTable(db, clientId, period);
      const levels = clientId === '' ? await levelDistribution(db) : undefined;
      const totals = Object.fromEntries(COLUMNS.map((c) => [c, rows.reduce((a, r) => a + r.counts[c]!, 0)]));
      const csv = new URLSearchParams({ servico: clientId, mes: period.month });
      return consolePage(
        ui,
        operator,
        200,
        t('console.nav.reports'),
        html`${form}
<h2>${t('console.reports.signins_title', { month: period.month })}</h2>
${barChart(ui, rows.map((r) => ({ day: r.day, total: METHODS.reduce((a, m) => a + r.counts[`signin_${m}`]!, 0) })))}
<dl class="summary">${COLUMNS.map((c) => html`<dt>${t(`console.reports.${c}`)}</dt><dd>${totals[c]}</dd>`)}</dl>
${levels ? html`<h2>${t('console.reports.levels')}</h2><dl class="summary">${(['bronze', 'prata', 'ouro'] as const).map((l) => html`<dt>${t(`level.${l}`)}</dt><dd>${levels[l] ?? 0}</dd>`)}</dl>` : ''}
<p><a class="button secondary" href="/admin/relatorios.csv?${csv.toString()}" download>${t('console.reports.csv')}</a></p>
<div class="table-wrap"><table><caption>${t('console.reports.by_day')}</caption>
<thead><tr><th scope="col">${t('console.reports.day')}</th>${COLUMNS.map((c) => html`<th scope="col">${t(`console.reports.${c}`)}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr><th scope="row">${r.day}</th>${COLUMNS.map((c) => html`<td>${r.counts[c]}</td>`)}</tr>`)}</tbody></table></div>`,
      );
    }),
  );

  app.get(
    '/admin/relatorios.csv',
    guarded(READERS, async (request, reply, { ui, operator }) => {
      const { period, clientId, known } = await read(request.query as Record<string, string | undefined>);
      if (!period || !known) return consolePage(ui, operator, 400, ui.t('console.nav.reports'), html`<p class="error" role="alert">${ui.t(known ? 'console.reports.month_invalid' : 'service.not_found')}</p>`);
      const rows = await monthTable(db, clientId, period);
      const lines = [['day', ...COLUMNS].join(','), ...rows.map((r) => [r.day, ...COLUMNS.map((c) => r.counts[c])].join(','))];
      return reply
        .header('content-disposition', `attachment; filename="uso-${clientId || 'todos'}-${period.month}.csv"`)
        .type('text/csv; charset=utf-8')
        .send(`${lines.join('\n')}\n`);
    }),
  );
}
