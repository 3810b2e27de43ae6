import { FIELD_CATALOG } from '../identity/field-catalog.ts';
import { LEVELS } from '../identity/trust-levels.ts';
import { LOCALES } from '../platform/i18n.ts';
import type { Service } from '../services/service-store.ts';
import { html, type SafeHtml } from '../web/html.ts';
import { csrfField, errorSummary } from '../web/layout.ts';
import type { Ui } from '../web/request-context.ts';

type Body = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : '');
const lines = (v: unknown) => str(v).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
const KINDS = ['confidential', 'native', 'spa'] as const;

/** The form's values as the service store takes them (its own schema judges them). */
export function serviceInputFrom(body: Body, creating: boolean): Record<string, unknown> {
  const fields = FIELD_CATALOG.flatMap((f) => {
    const use = str(body[`use_${f.key}`]);
    if (use !== 'required' && use !== 'optional') return [];
    const purpose = Object.fromEntries(LOCALES.map((l) => [l, str(body[`purpose_${f.key}_${l}`]).trim()]).filter(([, v]) => v));
    return [{ key: f.key, required: use === 'required', purpose }];
  });
  return {
    ...(creating ? { type: str(body.type) || 'confidential', ...(str(body.clientId).trim() ? { clientId: str(body.clientId).trim() } : {}) } : {}),
    name: str(body.name),
    description: str(body.description),
    redirectUris: lines(body.redirectUris),
    postLogoutRedirectUris: lines(body.postLogoutRedirectUris),
    minTrustLevel: str(body.minTrustLevel) || 'bronze',
    acceptsForeigners: body.acceptsForeigners === 'yes',
    termsMarkdown: str(body.termsMarkdown),
    fields,
  };
}

/** A service as the form shows it (for editing). */
export function formValuesOf(service: Service): Body {
  const out: Body = {
    name: service.name,
    description: service.description,
    redirectUris: service.redirectUris.join('\n'),
    postLogoutRedirectUris: service.postLogoutRedirectUris.join('\n'),
    minTrustLevel: service.minTrustLevel,
    acceptsForeigners: service.acceptsForeigners ? 'yes' : '',
    termsMarkdown: service.termsMarkdown,
  };
  for (const f of service.fields) {
    out[`use_${f.key}`] = f.required ? 'required' : 'optional';
    for (const l of LOCALES) out[`purpose_${f.key}_${l}`] = f.purpose[l] ?? '';
  }
  return out;
}

function textField(ui: Ui, name: string, value: string, errors: Record<string, string>, opts: { rows?: number; hint?: string; required?: boolean } = {}): SafeHtml {
  const { t } = ui;
  const error = errors[name];
  const described = [opts.hint ? `${name}-hint` : '', error ? `${name}-error` : ''].filter(Boolean).join(' ');
  const attrs = html`id="${name}" name="${name}"${opts.required ? html` required` : ''}${described ? html` aria-describedby="${described}"` : ''}${error ? html` aria-invalid="true"` : ''}`;
  return html`<div class="field${error ? ' invalid' : ''}">
  <label for="${name}">${t(`console.services.${name}`)}</label>
  ${opts.hint ? html`<p class="hint" id="${name}-hint">${opts.hint}</p>` : ''}
  ${error ? html`<p class="error" id="${name}-error">${error}</p>` : ''}
  ${opts.rows ? html`<textarea ${attrs} rows="${opts.rows}">${value}</textarea>` : html`<input type="text" ${attrs} value="${value}">`}
</div>`;
}

/** Create and edit share one form; editing carries the version it was read at. */
export function serviceForm(ui: Ui, input: { action: string; values: Body; errors: Record<string, string>; creating: boolean; version?: string }): SafeHtml {
  const { t } = ui;
  const { values: v, errors } = input;
  return html`${errorSummary(t, Object.fromEntries(Object.keys(errors).map((k) => [k, 'console.services.check_field'])))}
<form method="post" action="${input.action}" novalidate>
  ${csrfField(ui.csrf())}
  ${input.version ? html`<input type="hidden" name="version" value="${input.version}">` : ''}
  ${textField(ui, 'name', str(v.name), errors, { required: true })}
  ${textField(ui, 'description', str(v.description), errors, { rows: 2 })}
  ${input.creating
    ? html`${textField(ui, 'clientId', str(v.clientId), errors, { hint: t('console.services.clientId_hint') })}
  <div class="field"><label for="type">${t('console.services.type')}</label><select id="type" name="type">${KINDS.map((k) => html`<option value="${k}"${str(v.type) === k ? html` selected` : ''}>${t(`console.services.kind.${k}`)}</option>`)}</select></div>`
    : ''}
  ${textField(ui, 'redirectUris', str(v.redirectUris), errors, { rows: 3, hint: t('console.services.one_per_line'), required: true })}
  ${textField(ui, 'postLogoutRedirectUris', str(v.postLogoutRedirectUris), errors, { rows: 2, hint: t('console.services.one_per_line') })}
  <div class="field"><label for="minTrustLevel">${t('console.services.minTrustLevel')}</label><select id="minTrustLevel" name="minTrustLevel">${LEVELS.map((l) => html`<option value="${l}"${str(v.minTrustLevel) === l ? html` selected` : ''}>${t(`level.${l}`)}</option>`)}</select></div>
  <p><input type="checkbox" id="acceptsForeigners" name="acceptsForeigners" value="yes"${v.acceptsForeigners === 'yes' ? html` checked` : ''}> <label class="inline" for="acceptsForeigners">${t('console.services.acceptsForeigners')}</label></p>
  <h2>${t('console.services.contract')}</h2>
  ${errors.fields ? html`<p class="error" id="fields">${errors.fields}</p>` : ''}
  ${FIELD_CATALOG.map((f) => {
    const use = str(v[`use_${f.key}`]) || 'no';
    return html`<fieldset class="contract-field"><legend>${t(`field.${f.key}.label`)}</legend>
    <div class="field"><label for="use_${f.key}">${t('console.services.use')}</label><select id="use_${f.key}" name="use_${f.key}">${(['no', 'required', 'optional'] as const).map((u) => html`<option value="${u}"${use === u ? html` selected` : ''}>${t(`console.services.use_${u}`)}</option>`)}</select></div>
    ${LOCALES.map((l) => html`<div class="field"><label for="purpose_${f.key}_${l}">${t('console.services.purpose', { language: t(`console.language.${l}`) })}</label><input type="text" id="purpose_${f.key}_${l}" name="purpose_${f.key}_${l}" maxlength="500" lang="${l}" value="${str(v[`purpose_${f.key}_${l}`])}"></div>`)}
  </fieldset>`;
  })}
  ${textField(ui, 'termsMarkdown', str(v.termsMarkdown), errors, { rows: 8, hint: t('console.services.terms_hint') })}
  <button type="submit">${t(input.creating ? 'console.services.create' : 'console.services.save')}</button>
</form>`;
}
