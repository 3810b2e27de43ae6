import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Csrf } from './csrf.ts';
import { type I18n, type Locale, negotiateLocale, type Translate } from '../platform/i18n.ts';
import { page } from './layout.ts';
import { type Brand, DEFAULT_BRAND } from '../config/brand-config.ts';
import type { SafeHtml } from './html.ts';

export const LANG_COOKIE = 'cdl_lang';

export type Ui = {
  locale: Locale;
  t: Translate;
  brand: Brand;
  csrf(): string;
  /** Sends a full page with the given status. */
  render(status: number, title: string, body: SafeHtml, scripts?: string[]): FastifyReply;
};

/** Per request: the person's language (remembered when chosen), CSRF token and page renderer. */
export function createUiFactory(i18n: I18n, csrf: Csrf, secure: boolean, brand: Brand = DEFAULT_BRAND) {
  return (request: FastifyRequest, reply: FastifyReply, uiLocales?: string): Ui => {
    const query = request.query as Record<string, string | undefined>;
    const chosen = typeof query.lang === 'string' ? query.lang : undefined;
    const locale = negotiateLocale(
      [chosen, request.cookies[LANG_COOKIE], uiLocales],
      request.headers['accept-language'],
    );
    if (chosen && chosen === locale && request.cookies[LANG_COOKIE] !== locale) {
      reply.setCookie(LANG_COOKIE, locale, { path: '/', sameSite: 'lax', secure, maxAge: 365 * 24 * 3600 });
    }
    const t = i18n.translator(locale);
    return {
      locale,
      t,
      brand,
      csrf: () => csrf.token(request, reply),
      render(status, title, body, scripts) {
        const path = request.url.replace(/([?&])lang=[^&]*&?/, '$1').replace(/[?&]$/, '');
        return reply
          .status(status)
          .type('text/html; charset=utf-8')
          .send(page({ t, locale, title, body, path, brand, ...(scripts ? { scripts } : {}) }));
      },
    };
  };
}

export type UiFactory = ReturnType<typeof createUiFactory>;
