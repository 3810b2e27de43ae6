import { html } from '../../web/html.ts';
import { csrfField, errorSummary, field } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';
import { type FieldDef, fieldDef } from '../../identity/field-catalog.ts';
import { fieldInput } from '../field-inputs.ts';
import type { RegistrationErrors, RegistrationForm } from './registration-flow.ts';

export function registrationPage(
  ui: Ui,
  input: {
    uid: string;
    serviceName: string | undefined;
    form?: Partial<RegistrationForm>;
    errors?: RegistrationErrors;
    /** The service's required fields beyond the core form (generated from the catalog). */
    extraFields?: string[];
    /** Core fields the service makes mandatory (e.g. the phone). */
    requiredCore?: string[];
    extraForm?: Record<string, string>;
    /** Fields read from the citizen's ICP-Brasil certificate: shown, locked, verified. */
    locked?: readonly string[];
    status?: number;
  },
) {
  const { t, locale } = ui;
  const extras = (input.extraFields ?? []).map((k) => fieldDef(k)).filter((d): d is FieldDef => Boolean(d));
  const needs = (k: string) => input.requiredCore?.includes(k) ?? false;
  const f = input.form ?? {};
  const e = input.errors ?? {};
  const hasErrors = Object.keys(e).length > 0;
  const locked = (k: string) => input.locked?.includes(k) ?? false;
  const fromCertificate = t('register.from_certificate');
  return ui.render(
    input.status ?? (hasErrors ? 422 : 200),
    t('register.title'),
    html`${input.serviceName ? html`<p class="notice">${t('login.for_service', { service: input.serviceName })}</p>` : ''}
${input.locked?.length ? html`<p class="notice">${t('register.certificate_read')}</p>` : ''}
${errorSummary(t, e as Record<string, string>)}
<form method="post" action="/interaction/${input.uid}/register" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'cpf', label: t('register.cpf'), hint: locked('cpf') ? fromCertificate : t('register.cpf_hint'), value: f.cpf, error: e.cpf, inputmode: 'numeric', autocomplete: 'off', maxlength: 14, readonly: locked('cpf') })}
  ${field({ t, name: 'name', label: t('register.name'), ...(locked('name') ? { hint: fromCertificate } : {}), value: f.name, error: e.name, autocomplete: 'name', maxlength: 200, readonly: locked('name') })}
  ${field({ t, name: 'social_name', label: t('register.social_name'), hint: t('register.social_name_hint'), value: f.social_name, error: e.social_name, required: needs('social_name'), maxlength: 200 })}
  ${field({ t, name: 'birthdate', label: t('register.birthdate'), ...(locked('birthdate') ? { hint: fromCertificate } : {}), type: 'date', value: f.birthdate, error: e.birthdate, autocomplete: 'bday', readonly: locked('birthdate') })}
  ${field({ t, name: 'email', label: t('register.email'), hint: t('register.email_hint'), type: 'email', value: f.email, error: e.email, autocomplete: 'email', maxlength: 254 })}
  ${field({ t, name: 'phone_number', label: t('register.phone'), hint: t('register.phone_hint'), type: 'tel', value: f.phone_number, error: e.phone_number, autocomplete: 'tel', required: needs('phone_number'), maxlength: 25 })}
  ${extras.length ? html`<h2>${t('register.service_fields', { service: input.serviceName ?? '' })}</h2>` : ''}
  ${extras.map((d) => fieldInput(t, locale, d, input.extraForm ?? {}, e as Record<string, string>, true))}
  ${field({ t, name: 'password', label: t('register.password'), hint: t('register.password_hint'), type: 'password', error: e.password, autocomplete: 'new-password', maxlength: 1000 })}
  <p class="strength" id="password-strength" aria-live="polite" data-labels="${[0, 1, 2, 3, 4].map((s) => t(`password.strength_${s}`)).join('|')}"></p>
  <div class="actions"><button type="submit">${t('register.submit')}</button></div>
</form>
<p><a href="/interaction/${input.uid}">${t('register.have_account')}</a></p>`,
    ['/static/password-strength.js'],
  );
}
