import { html, trusted } from '../web/html.ts';
import { type I18n, negotiateLocale } from '../platform/i18n.ts';
import { page, wayBack } from '../web/layout.ts';
import { type Brand, DEFAULT_BRAND } from '../config/brand-config.ts';
import { LANG_COOKIE } from '../web/request-context.ts';
import type { PageContext, ProviderPages } from '../oidc/provider.ts';

/** Pages oidc-provider renders itself (errors, logout, self-posting forms), in the person's language. */
export function createProviderPages(i18n: I18n, brand: Brand = DEFAULT_BRAND): ProviderPages {
  const ui = (ctx: PageContext) => {
    const locale = negotiateLocale(
      [ctx.query.lang as string | undefined, ctx.cookies[LANG_COOKIE], ctx.query.ui_locales as string | undefined],
      ctx.acceptLanguage,
    );
    return { locale, t: i18n.translator(locale) };
  };
  return {
    error(ctx, code, _description, status) {
      const { locale, t } = ui(ctx);
      const key = i18n.has(`oidc_error.${code}`) ? `oidc_error.${code}` : 'oidc_error.generic';
      // The protocol's description is for developers and may echo request values: show only the code.
      return page({
        t,
        locale,
        brand,
        title: t('oidc_error.title'),
        body: html`<p>${t(key)}</p><p class="hint">${t('oidc_error.code', { code, status })}</p>${wayBack(t)}`,
      });
    },
    logout(ctx, form, clientName) {
      const { locale, t } = ui(ctx);
      return page({
        t,
        locale,
        brand,
        title: t('logout.title'),
        body: html`<p>${clientName ? t('logout.question_service', { service: clientName }) : t('logout.question')}</p>
${trusted(form)}
<div class="actions">
  <button type="submit" form="op.logoutForm" name="logout" value="yes">${t('logout.yes')}</button>
  <button type="submit" form="op.logoutForm" class="secondary">${t('logout.no')}</button>
</div>`,
      });
    },
    selfPosting(ctx, form, purpose, clientName) {
      const { locale, t } = ui(ctx);
      const text =
        purpose === 'logout'
          ? clientName ? t('selfpost.logout_text', { service: clientName }) : t('selfpost.logout_text_unnamed')
          : clientName ? t('selfpost.return_text', { service: clientName }) : t('selfpost.return_text_unnamed');
      return page({
        t,
        locale,
        brand,
        title: t(purpose === 'logout' ? 'selfpost.logout_title' : 'selfpost.return_title'),
        scripts: ['/static/auto-submit.js'],
        body: html`<p>${text}</p>
<form method="post" action="${form.action}" data-auto-submit>
${form.inputs.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<p class="hint">${t('selfpost.no_script')}</p>
<div class="actions"><button type="submit">${t('selfpost.continue')}</button></div>
</form>`,
      });
    },
    loggedOut(ctx, clientName) {
      const { locale, t } = ui(ctx);
      return page({
        t,
        locale,
        brand,
        title: t('logout.done_title'),
        body: html`<p>${clientName ? t('logout.done_service', { service: clientName }) : t('logout.done')}</p>`,
      });
    },
  };
}
