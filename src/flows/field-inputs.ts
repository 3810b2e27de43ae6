import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { formatCnpj } from '../identity/cnpj.ts';
import { formatCpf } from '../identity/cpf.ts';
import {
  ADDRESS_PARTS,
  type Address,
  BRAZIL_REGIONS,
  countryCodesList,
  type FieldDef,
  type FieldValue,
  inputName,
} from '../identity/field-catalog.ts';
import { html, type SafeHtml } from '../web/html.ts';
import type { Locale, Translate } from '../platform/i18n.ts';

/** Form inputs generated from the field catalog, with labels, help and errors in the page's language. */

const INPUT_TYPES: Record<string, string> = { date: 'date', email: 'email', phone: 'tel', text: 'text', cpf: 'text' };

function describedBy(name: string, hint: boolean, error: boolean): SafeHtml {
  const ids = [hint ? `${name}-hint` : '', error ? `${name}-error` : ''].filter(Boolean).join(' ');
  return ids ? html` aria-describedby="${ids}"` : html``;
}

function select(
  name: string,
  options: { value: string; label: string }[],
  value: string,
  required: boolean,
  hint: boolean,
  error: string | undefined,
  autocomplete?: string,
): SafeHtml {
  return html`<select id="${name}" name="${name}"${required ? html` required` : ''}${autocomplete ? html` autocomplete="${autocomplete}"` : ''}${describedBy(name, hint, Boolean(error))}${error ? html` aria-invalid="true"` : ''}>
    <option value=""></option>
    ${options.map((o) => html`<option value="${o.value}"${o.value === value ? html` selected` : ''}>${o.label}</option>`)}
  </select>`;
}

export function countryOptions(locale: Locale): { value: string; label: string }[] {
  const names = new Intl.DisplayNames([locale], { type: 'region' });
  return countryCodesList()
    .map((c) => ({ value: c, label: names.of(c) ?? c }))
    .sort((a, b) => a.label.localeCompare(b.label, locale));
}

export function fieldInput(
  t: Translate,
  locale: Locale,
  def: FieldDef,
  form: Record<string, string>,
  errors: Record<string, string>,
  required: boolean,
): SafeHtml {
  const label = t(`field.${def.key}.label`);
  const help = t(`field.${def.key}.help`);
  const hasHelp = help !== '' && help !== `field.${def.key}.help`;
  if (def.kind === 'address') {
    return html`<fieldset class="field-group"${hasHelp ? html` aria-describedby="${inputName(def.key)}-hint"` : ''}>
  <legend>${label}${required ? '' : html` <span class="optional">(${t('form.optional')})</span>`}</legend>
  ${hasHelp ? html`<p class="hint" id="${inputName(def.key)}-hint">${help}</p>` : ''}
  ${ADDRESS_PARTS.map((p) => {
    const name = inputName(def.key, p.part);
    const error = errors[name];
    const partRequired = required && p.required;
    const partHint = p.part === 'postal_code';
    const value = form[name] ?? (p.part === 'country' ? 'BR' : '');
    const control =
      p.part === 'region'
        ? select(name, BRAZIL_REGIONS.map((r) => ({ value: r, label: r })), value.toUpperCase(), partRequired, false, error, p.autocomplete)
        : p.part === 'country'
          ? select(name, countryOptions(locale), value.toUpperCase(), partRequired, false, error, 'country')
          : html`<input id="${name}" name="${name}" type="text" value="${value}" maxlength="${p.maxLength}"${
              'inputmode' in p ? html` inputmode="${p.inputmode}"` : ''
            }${'autocomplete' in p && p.autocomplete ? html` autocomplete="${p.autocomplete}"` : ''}${partRequired ? html` required` : ''}${describedBy(name, partHint, Boolean(error))}${error ? html` aria-invalid="true"` : ''}>`;
    return html`<div class="field${error ? ' invalid' : ''}">
    <label for="${name}">${t(`field.address.${p.part}.label`)}${partRequired || !required ? '' : html` <span class="optional">(${t('form.optional')})</span>`}</label>
    ${partHint ? html`<p class="hint" id="${name}-hint">${t('field.address.postal_code.help')}</p>` : ''}
    ${error ? html`<p class="error" id="${name}-error">${t(error)}</p>` : ''}
    ${control}
  </div>`;
  })}
</fieldset>`;
  }
  const name = inputName(def.key);
  const error = errors[name];
  const value = form[name] ?? '';
  let control: SafeHtml;
  if (def.kind === 'choice') {
    const options = (def.choices ?? []).map((c) => ({ value: c, label: t(`field.${def.key}.choice.${c}`) }));
    control = select(name, options, value, required, hasHelp, error);
  } else if (def.kind === 'country') {
    control = select(name, countryOptions(locale), value.toUpperCase(), required, hasHelp, error, 'country');
  } else {
    control = html`<input id="${name}" name="${name}" type="${INPUT_TYPES[def.kind] ?? 'text'}" value="${value}"${
      def.maxLength ? html` maxlength="${def.maxLength}"` : ''
    }${def.autocomplete ? html` autocomplete="${def.autocomplete}"` : ''}${def.kind === 'phone' ? html` inputmode="tel"` : ''}${
      required ? html` required` : ''
    }${describedBy(name, hasHelp, Boolean(error))}${error ? html` aria-invalid="true"` : ''}>`;
  }
  return html`<div class="field${error ? ' invalid' : ''}">
  <label for="${name}">${label}${required ? '' : html` <span class="optional">(${t('form.optional')})</span>`}</label>
  ${hasHelp ? html`<p class="hint" id="${name}-hint">${help}</p>` : ''}
  ${error ? html`<p class="error" id="${name}-error">${t(error)}</p>` : ''}
  ${control}
</div>`;
}

/** A stored value as a person reads it, in their language. */
export function displayValue(t: Translate, locale: Locale, def: FieldDef, value: FieldValue): string {
  if (def.kind === 'address' && typeof value === 'object') {
    const a = value as Address;
    const country = new Intl.DisplayNames([locale], { type: 'region' }).of(a.country) ?? a.country;
    return [
      [a.street_address, a.number, a.complement].filter(Boolean).join(', '),
      a.neighbourhood,
      `${a.locality} - ${a.region}`,
      a.postal_code,
      country,
    ]
      .filter(Boolean)
      .join(' · ');
  }
  if (Array.isArray(value)) return value.map((c) => `${c.name} (${formatCnpj(c.cnpj)})`).join('; ');
  const v = String(value);
  switch (def.kind) {
    case 'cpf':
      return formatCpf(v);
    case 'phone':
      // Grouped as people write it: "+5541987654321" is read aloud as one huge number.
      return parsePhoneNumberFromString(v)?.formatInternational() ?? v;
    case 'date': {
      const d = new Date(`${v}T12:00:00Z`);
      return Number.isNaN(d.getTime()) ? v : new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(d);
    }
    case 'choice':
      return t(`field.${def.key}.choice.${v}`);
    case 'country':
      return new Intl.DisplayNames([locale], { type: 'region' }).of(v) ?? v;
    default:
      return v;
  }
}
