import type { Translate } from '../platform/i18n.ts';
import { html, type SafeHtml } from '../web/html.ts';

/**
 * The sections of the citizen's account, in the order the hub and the menu of every account page
 * show them. A feature that adds a part of the account (security, recovery settings, second
 * factors, ...) adds one line here with its path and two locale keys (the title, and one
 * sentence of what is there); its own pages live in its own files and may
 * render themselves inside the account frame with `accountNav(t, id)`.
 */
export type AccountSection = {
  id: string;
  href: string;
  /** Locale key of the title. */
  title: string;
  /** Locale key of the one sentence under it on the hub. */
  summary: string;
};

export const ACCOUNT_SECTIONS: readonly AccountSection[] = [
  {
    id: 'dados',
    href: '/conta/dados',
    title: 'account.section.data',
    summary: 'account.section.data_summary',
  },
  {
    id: 'seguranca',
    href: '/conta/seguranca',
    title: 'account.section.security',
    summary: 'account.section.security_summary',
  },
  {
    id: 'servicos',
    href: '/conta/servicos',
    title: 'account.section.services',
    summary: 'account.section.services_summary',
  },
  {
    id: 'privacidade',
    href: '/conta/privacidade',
    title: 'account.section.privacy',
    summary: 'account.section.privacy_summary',
  },
];

/** The account's menu: every section, the current one marked for assistive technology. */
export function accountNav(t: Translate, current?: string): SafeHtml {
  return html`<nav class="account-nav" aria-label="${t('account.nav')}">
  <ul>
    <li><a href="/conta"${current === undefined ? html` aria-current="page"` : ''}>${t('account.title')}</a></li>
    ${ACCOUNT_SECTIONS.map(
      (s) =>
        html`<li><a href="${s.href}"${s.id === current ? html` aria-current="page"` : ''}>${t(s.title)}</a></li>`,
    )}
  </ul>
</nav>`;
}

/** The hub's list: each section with one sentence of what it holds. */
export function sectionCards(t: Translate): SafeHtml {
  return html`<ul class="section-cards">
  ${ACCOUNT_SECTIONS.map(
    (s) => html`<li><h2><a href="${s.href}">${t(s.title)}</a></h2><p>${t(s.summary)}</p></li>`,
  )}
</ul>`;
}
