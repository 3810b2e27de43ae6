import { fieldDef } from '../../identity/field-catalog.ts';
import { html } from '../../web/html.ts';
import { csrfField, errorSummary } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';
import { renderTerms } from '../../web/terms-markdown.ts';
import { displayValue, fieldInput } from '../field-inputs.ts';
import type { ConsentScreen } from './consent-flow.ts';

export function purposeIn(purpose: Record<string, string>, locale: string): string {
  return purpose[locale] ?? purpose['pt-BR'] ?? Object.values(purpose)[0] ?? '';
}

export function consentPage(
  ui: Ui,
  input: { uid: string; screen: ConsentScreen; errors?: Record<string, string>; writeBack?: boolean },
) {
  const { t, locale } = ui;
  const { service, values, need, missing, form, shared } = input.screen;
  const errors = input.errors ?? {};
  const changed = need.needed && need.reason !== 'first';
  const newFields = need.needed ? need.newFields : [];
  return ui.render(
    Object.keys(errors).length ? 422 : 200,
    t('consent.title', { service: service.name }),
    html`${service.description ? html`<p>${service.description}</p>` : ''}
${service.type !== 'confidential' ? html`<p class="notice">${t('consent.client_kind', { service: service.name, kind: t(`service.kind.${service.type}`) })}</p>` : ''}
${errorSummary(t, errors)}
${changed && need.needed && need.termsChanged ? html`<p class="notice" role="status">${t('consent.terms_changed', { version: service.terms?.version ?? 1 })}</p>` : ''}
${changed && newFields.length ? html`<p class="notice" role="status">${t('consent.fields_added', { fields: newFields.map((k) => t(`field.${k}.label`)).join(', ') })}</p>` : ''}
<form method="post" action="/interaction/${input.uid}/consent" novalidate>
  ${csrfField(ui.csrf())}
  <h2>${t('consent.data_title', { service: service.name })}</h2>
  ${
    service.fields.length === 0
      ? html`<p>${t('consent.no_fields')}</p>`
      : html`<ul class="data-list">${service.fields.map((f) => {
          const def = fieldDef(f.key)!;
          const value = values[f.key];
          const purpose = purposeIn(f.purpose, locale);
          const isNew = changed && newFields.includes(f.key);
          return html`<li class="data-item">
      <p class="data-name"><strong>${t(`field.${f.key}.label`)}</strong> ${f.required ? html`<span class="tag">${t('consent.required')}</span>` : html`<span class="tag optional-tag">${t('consent.optional')}</span>`}${isNew ? html` <span class="tag new-tag">${t('consent.new')}</span>` : ''}</p>
      <p class="data-purpose">${t('consent.purpose', { purpose })}</p>
      ${def.storage === 'derived' ? html`<p class="hint">${t('consent.from_records')}</p>` : ''}
      ${
        value !== undefined
          ? html`<p class="data-value">${t('consent.your_value')}: <span>${displayValue(t, locale, def, value)}</span></p>`
          : f.required && def.storage !== 'derived'
            ? html``
            : html`<p class="data-value hint">${t('consent.not_provided')}</p>`
      }
      ${
        !f.required && value !== undefined
          ? html`<p><input type="checkbox" id="share_${f.key}" name="share_${f.key}" value="yes"${shared.has(f.key) ? html` checked` : ''}> <label class="inline" for="share_${f.key}">${t('consent.share', { field: t(`field.${f.key}.label`) })}</label></p>`
          : ''
      }
      ${missing.includes(f.key) ? html`<div class="ask">${fieldInput(t, locale, def, form, errors, true)}</div>` : ''}
    </li>`;
        })}</ul>`
  }
  <h2 id="terms-title">${t('consent.terms')}${service.terms ? html` <span class="hint">(${t('consent.terms_version', { version: service.terms.version })})</span>` : ''}</h2>
  <section class="terms" aria-labelledby="terms-title" tabindex="0">
  ${service.terms?.text.trim() ? renderTerms(service.terms.text) : html`<p>${t('consent.no_terms')}</p>`}
  </section>
  ${
    input.writeBack
      ? html`<p class="notice">${t('consent.write_back', {
          service: service.name,
          fields: service.fields.filter((f) => fieldDef(f.key)?.editable).map((f) => t(`field.${f.key}.label`)).join(', '),
        })}</p>`
      : ''
  }
  <p>${t('consent.explain', { service: service.name })}</p>
  <div class="actions">
    <button type="submit" name="decision" value="accept">${t('consent.accept')}</button>
    <button type="submit" name="decision" value="decline" class="secondary" formnovalidate>${t('consent.decline')}</button>
  </div>
</form>`,
  );
}
