import { html } from '../../web/html.ts';
import { csrfField, errorSummary, field } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';
import { countryOptions } from '../field-inputs.ts';

/** How a number typed without its +country is read (Brazil unless the person says otherwise). */
export function phoneCountrySelect(ui: Ui, country: string) {
  const { t } = ui;
  return html`<div class="field">
  <label for="country">${t('login.phone_country')}</label>
  <p class="hint" id="country-hint">${t('login.phone_country_hint')}</p>
  <select id="country" name="country" autocomplete="country" aria-describedby="country-hint">
    ${countryOptions(ui.locale).map((o) => html`<option value="${o.value}"${o.value === country ? html` selected` : ''}>${o.label}</option>`)}
  </select>
</div>`;
}

export function loginPage(
  ui: Ui,
  input: {
    uid: string;
    serviceName: string | undefined;
    /** Offer the sign-in with a digital certificate (configured on this installation). */
    certificate?: boolean;
    identifier?: string;
    error?: string;
    errorParams?: Record<string, string>;
    status?: number;
    /** The service accepts foreigners: registration without a CPF, and a number's country for signing in. */
    foreigners?: boolean;
    country?: string;
  },
) {
  const { t } = ui;
  const message = input.error ? t(input.error, input.errorParams) : '';
  return ui.render(
    input.status ?? (input.error === 'login.throttled' ? 429 : input.error ? 401 : 200),
    t('login.title'),
    html`${input.serviceName ? html`<p class="notice">${t('login.for_service', { service: input.serviceName })}</p>` : ''}
${message ? html`<div class="errors" role="alert"><p>${message}</p></div>` : ''}
<form method="post" action="/interaction/${input.uid}/login" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'identifier', label: t('login.identifier'), hint: t('login.identifier_hint'), value: input.identifier ?? '', autocomplete: 'username webauthn', maxlength: 254 })}
  ${input.foreigners ? phoneCountrySelect(ui, input.country ?? 'BR') : ''}
  ${field({ t, name: 'password', label: t('login.password'), type: 'password', autocomplete: 'current-password', maxlength: 1000 })}
  <div class="actions"><button type="submit">${t('login.submit')}</button></div>
</form>
${passkeySignIn(ui, input.uid, true)}
${input.certificate ? html`<h2>${t('login.certificate_heading')}</h2>
<p>${t('login.certificate_hint')}</p>
<p><a class="button secondary" href="/interaction/${input.uid}/certificate">${t('login.certificate')}</a></p>` : ''}
<p><a href="/interaction/${input.uid}/recuperar">${t('login.forgot')}</a></p>
<h2>${t('login.no_account')}</h2>
<p><a class="button secondary" href="/interaction/${input.uid}/register">${t('login.register')}</a></p>
${input.foreigners ? html`<p><a class="button secondary" href="/interaction/${input.uid}/register-foreign">${t('foreign.no_cpf')}</a></p>` : ''}
<form method="post" action="/interaction/${input.uid}/abort">
  ${csrfField(ui.csrf())}
  <button type="submit" class="secondary">${t('login.cancel')}</button>
</form>`,
    PASSKEY_SCRIPTS,
  );
}

/** The passkey's scripts: the library's browser part, served from this site, and ours. */
export const PASSKEY_SCRIPTS = ['/static/webauthn/simplewebauthn-browser.js', '/static/passkey.js'];

/**
 * "Entrar com chave de acesso": a button the script shows where the browser has WebAuthn, and, with
 * `autofill`, the browser's own suggestion in the identifier field (conditional mediation).
 */
export function passkeySignIn(ui: Ui, uid: string, autofill: boolean) {
  const { t } = ui;
  return html`<div class="passkey" id="passkey-section">
<h2>${t('passkey.heading')}</h2>
<p>${t('passkey.sign_in_hint')}</p>
<p><button type="button" class="secondary" id="passkey-button" data-options="/interaction/${uid}/passkey/opcoes" data-verify="/interaction/${uid}/passkey" data-csrf="${ui.csrf()}" data-autofill="${autofill ? '1' : '0'}" data-failed="${t('passkey.failed')}" data-wait="${t('passkey.wait')}" hidden>${t('passkey.sign_in')}</button></p>
<p class="hint" id="passkey-status" role="status"></p>
<noscript><p class="hint">${t('passkey.needs_script')}</p></noscript>
</div>`;
}
