import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { type FieldDef, fieldDef } from '../../identity/field-catalog.ts';
import { html } from '../../web/html.ts';
import { csrfField, errorSummary, field } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';
import { countryOptions, fieldInput } from '../field-inputs.ts';
import { FOREIGN_CORE_FIELDS, type ForeignErrors, type ForeignForm } from './foreign-registration-flow.ts';

/** The registration form of a person without a CPF, in their language; generated inputs from the catalog. */
export function foreignRegistrationPage(
  ui: Ui,
  input: {
    uid: string;
    serviceName: string | undefined;
    form?: Partial<ForeignForm>;
    errors?: ForeignErrors;
    extraFields: string[];
    status?: number;
  },
) {
  const { t, locale } = ui;
  const f = input.form ?? {};
  const e = input.errors ?? {};
  // The preferred language starts as the page's.
  const typed = { f_locale: locale, ...(f.typed ?? {}) };
  const defs = (keys: readonly string[]) =>
    keys.map((k) => fieldDef(k)).filter((d): d is FieldDef => Boolean(d));
  const core = defs(FOREIGN_CORE_FIELDS);
  const extras = defs(input.extraFields);
  const country = (f.country ?? '').toUpperCase();
  return ui.render(
    input.status ?? (Object.keys(e).length ? 422 : 200),
    t('foreign.title'),
    html`${input.serviceName ? html`<p class="notice">${t('login.for_service', { service: input.serviceName })}</p>` : ''}
<p>${t('foreign.intro')}</p>
${errorSummary(t, e)}
<form method="post" action="/interaction/${input.uid}/register-foreign" novalidate>
  ${csrfField(ui.csrf())}
  <fieldset class="field-group">
    <legend>${t('foreign.phone_legend')}</legend>
    <div class="field${e.country ? ' invalid' : ''}">
      <label for="country">${t('foreign.country')}</label>
      <p class="hint" id="country-hint">${t('foreign.country_hint')}</p>
      <select id="country" name="country" autocomplete="country" aria-describedby="country-hint">
        <option value=""></option>
        ${countryOptions(locale).map((o) => html`<option value="${o.value}"${o.value === country ? html` selected` : ''}>${o.label}</option>`)}
      </select>
    </div>
    ${field({ t, name: 'phone', label: t('foreign.phone'), hint: t('foreign.phone_hint'), type: 'tel', value: f.phone, error: e.phone, autocomplete: 'tel', inputmode: 'tel', maxlength: 25 })}
  </fieldset>
  ${core.map((def) => fieldInput(t, locale, def, typed, e, def.key !== 'email'))}
  ${field({ t, name: 'password', label: t('register.password'), hint: t('register.password_hint'), type: 'password', error: e.password, autocomplete: 'new-password', maxlength: 1000 })}
  ${extras.length ? html`<h2>${t('register.service_fields', { service: input.serviceName ?? '' })}</h2>` : ''}
  ${extras.map((def) => fieldInput(t, locale, def, typed, e, true))}
  <div class="actions"><button type="submit">${t('foreign.submit')}</button></div>
</form>
<p><a href="/interaction/${input.uid}">${t('foreign.back_to_login')}</a></p>`,
  );
}

/** "+34 612 •• •• 78": enough for the person to recognise their number, not to read it off the page. */
export function maskPhone(e164: string): string {
  const parsed = parsePhoneNumberFromString(e164);
  const national = parsed ? parsed.nationalNumber : e164.replace(/^\+/, '');
  return `+${parsed?.countryCallingCode ?? ''} ${'•'.repeat(Math.max(2, national.length - 2))}${national.slice(-2)}`;
}

/** The page that asks for the code sent by SMS to the number being registered. */
export function phoneCodePage(
  ui: Ui,
  input: {
    uid: string;
    phone: string;
    error?: string;
    errorParams?: Record<string, string | number>;
    info?: string;
    status?: number;
  },
) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 422 : 200),
    t('foreign.code_title'),
    html`<p>${t('foreign.code_sent_to', { phone: maskPhone(input.phone) })}</p>
${input.info ? html`<p class="notice" role="status">${t(input.info)}</p>` : ''}
<form method="post" action="/interaction/${input.uid}/register-foreign/code" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'code', label: t('email_code.code'), hint: t('foreign.code_hint'), error: input.error ? t(input.error, input.errorParams) : undefined, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 7 })}
  <div class="actions"><button type="submit">${t('email_code.submit')}</button></div>
</form>
<form method="post" action="/interaction/${input.uid}/register-foreign/resend">
  ${csrfField(ui.csrf())}
  <button type="submit" class="secondary">${t('foreign.code_resend')}</button>
</form>
<p><a href="/interaction/${input.uid}/register-foreign">${t('foreign.code_change_number')}</a></p>`,
  );
}
