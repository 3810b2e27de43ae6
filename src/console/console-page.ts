import type { FastifyReply } from 'fastify';
import { html, type SafeHtml } from '../web/html.ts';
import type { Ui } from '../web/request-context.ts';
import type { Operator } from './console-auth.ts';
import type { Role } from './operator-store.ts';

/** The console's sections, which role opens each (checked on the server by every route). */
export const SECTIONS = [
  { path: '/admin/servicos', key: 'console.nav.services', roles: ['admin'] },
  { path: '/admin/atendimento', key: 'console.nav.support', roles: ['attendant'] },
  { path: '/admin/auditoria', key: 'console.nav.audit', roles: ['auditor'] },
  { path: '/admin/relatorios', key: 'console.nav.reports', roles: ['admin', 'auditor'] },
] as const satisfies readonly { path: string; key: string; roles: readonly Role[] }[];

export const REASON_MAX = 500;

/** A console page: the operator's name and roles, the sections their roles open, the sign-out link. */
export function consolePage(ui: Ui, operator: Operator, status: number, title: string, body: SafeHtml): FastifyReply {
  const { t } = ui;
  const sections = SECTIONS.filter((s) => s.roles.some((r) => operator.roles.includes(r)));
  return ui.render(
    status,
    title,
    html`<nav aria-label="${t('console.nav.label')}" class="console-nav"><ul>
  <li><a href="/admin">${t('console.home.title')}</a></li>
  ${sections.map((s) => html`<li><a href="${s.path}">${t(s.key)}</a></li>`)}
  <li><a href="/admin/sair">${t('console.sign_out')}</a></li>
</ul></nav>
<p class="hint">${t('console.signed_in_as', { name: operator.name, roles: operator.roles.map((r) => t(`console.role.${r}`)).join(', ') })}</p>
${body}`,
  );
}

/** The reason every account action and search asks for: trimmed, required, bounded. */
export function readReason(value: unknown): { ok: true; reason: string } | { ok: false; error: string } {
  const reason = typeof value === 'string' ? value.trim() : '';
  if (reason.length < 5) return { ok: false, error: 'console.reason.required' };
  if (reason.length > REASON_MAX) return { ok: false, error: 'console.reason.too_long' };
  return { ok: true, reason };
}

export function reasonField(ui: Ui, error?: string, value = ''): SafeHtml {
  const { t } = ui;
  return html`<div class="field${error ? ' invalid' : ''}">
  <label for="reason">${t('console.reason.label')}</label>
  <p class="hint" id="reason-hint">${t('console.reason.hint', { max: REASON_MAX })}</p>
  ${error ? html`<p class="error" id="reason-error">${t(error)}</p>` : ''}
  <textarea id="reason" name="reason" required maxlength="${REASON_MAX}" rows="2" aria-describedby="reason-hint${error ? ' reason-error' : ''}"${error ? html` aria-invalid="true"` : ''}>${value}</textarea>
</div>`;
}

export const dateTime = (ui: Ui, at: Date) =>
  new Intl.DateTimeFormat(ui.locale, { dateStyle: 'short', timeStyle: 'medium', timeZone: 'America/Sao_Paulo' }).format(at);

/** The locale key part of an audit kind (`support.search` → `support_search`). */
export const kindKey = (kind: string) => kind.replaceAll('.', '_');
