import type { ConsentRecord } from '../consent/consent-store.ts';
import { FIELD_CATALOG } from '../identity/field-catalog.ts';
import type { Locale, Translate } from '../platform/i18n.ts';
import { html, type SafeHtml } from '../web/html.ts';
import type { ExportSection } from './data-export.ts';

/** A day as the city's people read it, in the page's language. */
export function formatDay(date: Date | string, locale: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'America/Sao_Paulo' }).format(
    new Date(date),
  );
}

export function formatMoment(date: Date | string, locale: string): string {
  return new Intl.DateTimeFormat(locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: 'America/Sao_Paulo',
  }).format(new Date(date));
}

/** What was sent to a service, as the catalog's field keys, read from the delivered SET. */
export function fieldsInDelivery(payload: Record<string, unknown> | null): string[] {
  const events = payload?.events;
  if (!events || typeof events !== 'object') return [];
  const claims = new Set<string>();
  for (const body of Object.values(events as Record<string, unknown>)) {
    const c = (body as { claims?: unknown } | null)?.claims;
    if (c && typeof c === 'object') for (const name of Object.keys(c)) claims.add(name);
  }
  return FIELD_CATALOG.filter((f) => claims.has(f.claim)).map((f) => f.key);
}

export type Delivery = { service: string; eventType: string; fields: string[]; at: Date };

type Entry = { at: Date; service: string; what: SafeHtml };

/** Every consent, revocation and data sharing, newest first, as one timeline. */
export function historyTable(
  t: Translate,
  locale: Locale,
  records: ConsentRecord[],
  deliveries: Delivery[],
): SafeHtml {
  const labels = (keys: string[]) =>
    keys.length ? keys.map((k) => t(`field.${k}.label`)).join(', ') : t('account.receives_nothing');
  const entries: Entry[] = [
    ...records.map((r) => ({
      at: r.createdAt,
      service: r.serviceName ?? r.clientId,
      what:
        r.action === 'granted'
          ? html`${t('privacy.event_granted', { fields: labels(r.fieldsShared) })}${r.termsVersion ? html` ${t('privacy.terms_version', { version: r.termsVersion })}` : ''}${r.writeBack ? html` ${t('privacy.event_write')}` : ''}`
          : html`${t('privacy.event_revoked')}`,
    })),
    ...deliveries
      .filter((d) => d.fields.length)
      .map((d) => ({
        at: d.at,
        service: d.service,
        what: html`${t('privacy.event_shared', { fields: labels(d.fields) })}`,
      })),
  ].sort((a, b) => new Date(b.at).getTime() - new Date(a.at).getTime());
  if (entries.length === 0) return html`<p>${t('privacy.history_empty')}</p>`;
  return html`<div class="table-scroll" tabindex="0" role="region" aria-label="${t('privacy.history_title')}"><table>
  <caption class="visually-hidden">${t('privacy.history_title')}</caption>
  <thead><tr><th scope="col">${t('privacy.col_date')}</th><th scope="col">${t('privacy.col_service')}</th><th scope="col">${t('privacy.col_what')}</th></tr></thead>
  <tbody>${entries.map((e) => html`<tr><td>${formatMoment(e.at, locale)}</td><td>${e.service}</td><td>${e.what}</td></tr>`)}</tbody>
</table></div>`;
}

function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Every section of the export as a table a person can read and print. */
export function exportTables(
  t: Translate,
  sections: ExportSection[],
  omitted: Record<string, string>,
): SafeHtml {
  return html`${sections.map((s) => {
    const columns = [...new Set(s.rows.flatMap((r) => Object.keys(r)))];
    // A plain block: the table inside is the region named by the heading (one landmark per name).
    return html`<div class="export-section">
<h2 id="export-${s.table}">${t(`export.table.${s.table}`)}</h2>
${
  s.rows.length === 0
    ? html`<p class="hint">${t('export.none')}</p>`
    : s.table === 'citizens'
      ? html`<dl class="claims">${columns.map((c) => html`<dt>${c}</dt><dd>${cell(s.rows[0]![c])}</dd>`)}</dl>`
      : html`<div class="table-scroll" tabindex="0" role="region" aria-labelledby="export-${s.table}"><table><thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
<tbody>${s.rows.map((r) => html`<tr>${columns.map((c) => html`<td>${cell(r[c])}</td>`)}</tr>`)}</tbody></table></div>`
}
</div>`;
  })}
${
  Object.keys(omitted).length
    ? html`<h2>${t('export.omitted_title')}</h2><ul>${Object.entries(omitted).map(([table, why]) => html`<li>${t(`export.table.${table}`)}: ${why}</li>`)}</ul>`
    : ''
}`;
}
