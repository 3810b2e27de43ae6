import { html, type SafeHtml } from './html.ts';
import { LOCALES, type Locale, type Translate } from '../platform/i18n.ts';
import { type Brand, DEFAULT_BRAND } from '../config/brand-config.ts';

export type PageInput = {
  t: Translate;
  locale: Locale;
  title: string;
  body: SafeHtml;
  /** Path (with query) of this page, for the language switch links. */
  path?: string;
  scripts?: string[];
  /** The deployment's name, logo and footer links (BRAND_*). */
  brand?: Brand;
};

const LANGUAGE_NAMES: Record<Locale, string> = { 'pt-BR': 'Português', en: 'English', es: 'Español' };

function withLang(path: string, locale: Locale): string {
  const url = new URL(path, 'http://x');
  url.searchParams.set('lang', locale);
  // A path such as `/.//evil.example/x` (any URL, a 404 included) normalises to `//evil.example/x`,
  // which a browser reads as another site: the link always keeps one leading slash.
  return `/${url.pathname.replace(/^\/+/, '')}${url.search}`;
}

/** The deployment's colours, as a stylesheet after app.css (no inline style under the CSP). */
export function brandCss(brand: Brand): string {
  return `:root { --brand: ${brand.primary}; --brand-dark: ${brand.primaryDark}; }\n`;
}

/** The one page frame: skip link, brand, language switch, main landmark, footer; no inline script or style. */
export function page({ t, locale, title, body, path = '/', scripts = [], brand = DEFAULT_BRAND }: PageInput): string {
  return `<!doctype html>${html`<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title === brand.name ? title : `${title} · ${brand.name}`}</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="/static/app.css">
<link rel="stylesheet" href="/marca.css">
${scripts.map((s) => html`<script src="${s}" defer></script>`)}
</head>
<body>
<a class="skip" href="#main">${t('layout.skip')}</a>
<header class="top">
  <a class="brand" href="/">${brand.logo ? html`<img src="/marca/${brand.logo}" alt="">` : ''}<span>${brand.name}</span></a>
  <nav aria-label="${t('layout.language')}" class="langs">
    <ul>${LOCALES.map((l) =>
      l === locale
        ? html`<li><span aria-current="true" lang="${l}">${LANGUAGE_NAMES[l]}</span></li>`
        : html`<li><a href="${withLang(path, l)}" lang="${l}" hreflang="${l}">${LANGUAGE_NAMES[l]}</a></li>`,
    )}</ul>
  </nav>
</header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
<footer class="foot">${brand.footerLinks.length ? html`<nav aria-label="${t('layout.footer_links')}"><ul>${brand.footerLinks.map((l) => html`<li><a href="${l.href}">${l.label}</a></li>`)}</ul></nav>` : ''}<p>${t('layout.footer', { brand: brand.name })}</p></footer>
</body>
</html>`}`;
}

/**
 * The ways on from a page where something stopped: back to the service the person came from (when
 * known), to their account, to the start. Every error page ends with it: no dead ends.
 */
export function wayBack(t: Translate, service?: { name: string; url: string }): SafeHtml {
  return html`<nav class="way-back" aria-label="${t('wayback.label')}"><ul>
${service ? html`<li><a href="${service.url}">${t('wayback.service', { service: service.name })}</a></li>` : ''}
<li><a href="/conta">${t('wayback.account')}</a></li>
<li><a href="/">${t('wayback.start')}</a></li>
</ul></nav>`;
}

/** A list of errors at the top of a form, announced to screen readers. */
export function errorSummary(t: Translate, errors: Record<string, string>): SafeHtml {
  const entries = Object.entries(errors);
  if (entries.length === 0) return html``;
  return html`<div class="errors" role="alert" tabindex="-1">
  <h2>${t('form.errors_title')}</h2>
  <ul>${entries.map(([field, key]) => html`<li><a href="#${field}">${t(key)}</a></li>`)}</ul>
</div>`;
}

export type FieldInput = {
  t: Translate;
  name: string;
  label: string;
  type?: string;
  value?: string;
  error?: string | undefined;
  hint?: string;
  autocomplete?: string;
  inputmode?: string;
  required?: boolean;
  maxlength?: number;
  /** Shown but not editable (a value read from a certificate, already verified). */
  readonly?: boolean;
};

export function field(f: FieldInput): SafeHtml {
  const hintId = f.hint ? `${f.name}-hint` : '';
  const errorId = f.error ? `${f.name}-error` : '';
  const describedBy = [hintId, errorId].filter(Boolean).join(' ');
  return html`<div class="field${f.error ? ' invalid' : ''}">
  <label for="${f.name}">${f.label}${f.required === false ? html` <span class="optional">(${f.t('form.optional')})</span>` : ''}</label>
  ${f.hint ? html`<p class="hint" id="${hintId}">${f.hint}</p>` : ''}
  ${f.error ? html`<p class="error" id="${errorId}">${f.t(f.error)}</p>` : ''}
  <input id="${f.name}" name="${f.name}" type="${f.type ?? 'text'}" value="${f.value ?? ''}"${
    f.autocomplete ? html` autocomplete="${f.autocomplete}"` : ''
  }${f.inputmode ? html` inputmode="${f.inputmode}"` : ''}${f.required === false ? '' : html` required`}${
    f.maxlength ? html` maxlength="${f.maxlength}"` : ''
  }${f.readonly ? html` readonly` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}${f.error ? html` aria-invalid="true"` : ''}>
</div>`;
}

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}
