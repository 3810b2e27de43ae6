import { normalizeCpf } from './cpf.ts';
import { normalizePhone } from './phone.ts';

/**
 * Every piece of citizen data the city knows. Forms, the consent screen, claims and the service
 * contracts are all generated from this list. Adding a field is one entry here plus its locale keys
 * (`field.<key>.label`, `.help`, `.invalid`; choices as `field.<key>.choice.<value>`).
 */
export type Sensitivity = 'basic' | 'personal' | 'sensitive';

export type Address = {
  street_address: string;
  number: string;
  complement?: string;
  neighbourhood?: string;
  locality: string;
  region: string;
  postal_code: string;
  country: string;
};

/** A company an e-CNPJ linked to its responsible person's account (identity/trust-levels.ts). */
export type CompanyValue = { cnpj: string; name: string };

export type FieldValue = string | Address | CompanyValue[];

export type ParseResult = { ok: true; value: FieldValue } | { ok: false; errors: Record<string, string> };

export type FieldKind = 'text' | 'date' | 'email' | 'phone' | 'cpf' | 'choice' | 'country' | 'address' | 'document' | 'companies';

/** The two kinds of account: a Brazilian one has a CPF; a foreign one (issue 12) has none. */
export type AccountKind = 'brazilian' | 'foreign';

export type FieldDef = {
  key: string;
  /** The OIDC claim it is released as. */
  claim: string;
  kind: FieldKind;
  sensitivity: Sensitivity;
  /**
   * Where the value lives: its own column on citizens, or the profile document; `derived` is a
   * value the account has from elsewhere (its trust level, the companies an e-CNPJ linked): shown
   * and released, never typed — not at registration, not on /conta/dados, not by write-back.
   */
  storage: 'column' | 'profile' | 'derived';
  /** Can the citizen change it (CPF cannot). */
  editable: boolean;
  /** Asked at registration whatever the service (the core fields). */
  core: boolean;
  choices?: readonly string[];
  maxLength?: number;
  autocomplete?: string;
  /**
   * Only this kind of account has the field: a contract asking for it does not ask the other kind
   * (a CPF is not asked of a foreigner, a passport not of a Brazilian). Absent: both kinds.
   */
  only?: AccountKind;
};

export const BRAZIL_REGIONS = [
  'AC', 'AL', 'AP', 'AM', 'BA', 'CE', 'DF', 'ES', 'GO', 'MA', 'MT', 'MS', 'MG', 'PA', 'PB', 'PR', 'PE', 'PI', 'RJ', 'RN',
  'RS', 'RO', 'RR', 'SC', 'SP', 'SE', 'TO',
] as const;

export const ADDRESS_PARTS = [
  { part: 'postal_code', required: true, maxLength: 9, autocomplete: 'postal-code', inputmode: 'numeric' },
  { part: 'street_address', required: true, maxLength: 200, autocomplete: 'address-line1' },
  { part: 'number', required: true, maxLength: 20 },
  { part: 'complement', required: false, maxLength: 100, autocomplete: 'address-line2' },
  { part: 'neighbourhood', required: false, maxLength: 100, autocomplete: 'address-level3' },
  { part: 'locality', required: true, maxLength: 100, autocomplete: 'address-level2' },
  { part: 'region', required: true, maxLength: 2, autocomplete: 'address-level1' },
  { part: 'country', required: true, maxLength: 2, autocomplete: 'country' },
] as const;

export const FIELD_CATALOG: readonly FieldDef[] = [
  { key: 'name', claim: 'name', kind: 'text', sensitivity: 'basic', storage: 'column', editable: true, core: true, maxLength: 200, autocomplete: 'name' },
  { key: 'social_name', claim: 'social_name', kind: 'text', sensitivity: 'personal', storage: 'column', editable: true, core: true, maxLength: 200 },
  { key: 'birthdate', claim: 'birthdate', kind: 'date', sensitivity: 'personal', storage: 'column', editable: true, core: true, autocomplete: 'bday' },
  { key: 'cpf', claim: 'cpf', kind: 'cpf', sensitivity: 'sensitive', storage: 'column', editable: false, core: true, only: 'brazilian' },
  { key: 'email', claim: 'email', kind: 'email', sensitivity: 'personal', storage: 'column', editable: true, core: true, maxLength: 254, autocomplete: 'email' },
  { key: 'phone_number', claim: 'phone_number', kind: 'phone', sensitivity: 'personal', storage: 'column', editable: true, core: false, maxLength: 25, autocomplete: 'tel' },
  { key: 'address', claim: 'address', kind: 'address', sensitivity: 'personal', storage: 'profile', editable: true, core: false },
  { key: 'mother_name', claim: 'mother_name', kind: 'text', sensitivity: 'personal', storage: 'profile', editable: true, core: false, maxLength: 200 },
  { key: 'nationality', claim: 'nationality', kind: 'country', sensitivity: 'personal', storage: 'profile', editable: true, core: false },
  { key: 'gender', claim: 'gender', kind: 'choice', sensitivity: 'sensitive', storage: 'profile', editable: true, core: false, choices: ['female', 'male', 'non_binary', 'other', 'not_said'] },
  { key: 'locale', claim: 'locale', kind: 'choice', sensitivity: 'basic', storage: 'column', editable: true, core: false, choices: ['pt-BR', 'en', 'es'] },
  // A foreigner's travel document, and Brazil's national migration registry number for residents.
  { key: 'passport_number', claim: 'passport_number', kind: 'document', sensitivity: 'sensitive', storage: 'profile', editable: true, core: false, maxLength: 20, only: 'foreign' },
  { key: 'passport_country', claim: 'passport_country', kind: 'country', sensitivity: 'personal', storage: 'profile', editable: true, core: false, only: 'foreign' },
  { key: 'rnm', claim: 'rnm', kind: 'document', sensitivity: 'sensitive', storage: 'profile', editable: true, core: false, maxLength: 12, only: 'foreign' },
  // What the city knows of the account rather than what the citizen says (issue 17): never editable.
  { key: 'trust_level', claim: 'trust_level', kind: 'choice', sensitivity: 'basic', storage: 'derived', editable: false, core: false, choices: ['bronze', 'prata', 'ouro'] },
  { key: 'companies', claim: 'companies', kind: 'companies', sensitivity: 'personal', storage: 'derived', editable: false, core: false },
  { key: 'alternate_email', claim: 'alternate_email', kind: 'email', sensitivity: 'personal', storage: 'profile', editable: true, core: false, maxLength: 254, autocomplete: 'email' },
];

const BY_KEY = new Map(FIELD_CATALOG.map((f) => [f.key, f]));

export function fieldDef(key: string): FieldDef | undefined {
  return BY_KEY.get(key);
}

export function isFieldKey(key: string): boolean {
  return BY_KEY.has(key);
}

/** The claim names every service could ever receive (for discovery and the provider's config). */
export const CATALOG_CLAIMS = FIELD_CATALOG.flatMap((f) =>
  f.key === 'email' ? ['email', 'email_verified'] : f.key === 'phone_number' ? ['phone_number', 'phone_number_verified'] : [f.claim],
);

const EMAIL = /^[^\s@<>()[\],;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

export function isEmail(value: string): boolean {
  return value.length <= 254 && EMAIL.test(value);
}

export function isPastDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) return false;
  return d.getUTCFullYear() >= 1900 && d.getTime() <= Date.now();
}

/** CEP: 8 digits, typed with or without the hyphen. */
export function normalizeCep(value: string): string | null {
  const trimmed = value.trim();
  if (!/^\d{5}-?\d{3}$/.test(trimmed)) return null;
  const digits = trimmed.replace('-', '');
  if (/^0{8}$/.test(digits)) return null;
  return `${digits.slice(0, 5)}-${digits.slice(5)}`;
}

let countryCodes: Set<string> | undefined;
export function isCountryCode(code: string): boolean {
  if (!countryCodes) {
    const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
    countryCodes = new Set();
    for (let a = 65; a <= 90; a++)
      for (let b = 65; b <= 90; b++) {
        const c = String.fromCharCode(a, b);
        // Only real countries: Intl knows them, and they are not the private-use or grouping codes.
        if (names.of(c) && !['EU', 'EZ', 'UN', 'QO', 'XA', 'XB', 'ZZ', 'AA', 'XK'].includes(c) && !/^(Q[M-Z]|X[A-Z])$/.test(c)) countryCodes.add(c);
      }
  }
  return countryCodes.has(code);
}

export function countryCodesList(): string[] {
  isCountryCode('BR');
  return [...countryCodes!];
}

/** Whether a person can ever type the field (a form may ask it): every field but the derived ones. */
export function isTyped(key: string): boolean {
  const def = BY_KEY.get(key);
  return Boolean(def && def.storage !== 'derived');
}

/** Whether an account of this kind has the field at all (see `FieldDef.only`). */
export function fieldApplies(key: string, kind: AccountKind): boolean {
  const only = BY_KEY.get(key)?.only;
  return !only || only === kind;
}

/** The form input name of a field (and of each address part). */
export function inputName(key: string, part?: string): string {
  return part ? `f_${key}_${part}` : `f_${key}`;
}

/**
 * Reads and validates one field from a submitted form. Errors are keyed by input name and carry
 * locale keys, so the page shows them next to the right input in the person's language.
 */
export function parseField(def: FieldDef, form: Record<string, unknown>): ParseResult | { ok: true; value: null } {
  const read = (name: string, max = 300) => (typeof form[name] === 'string' ? (form[name] as string) : '').slice(0, max).trim();
  const name = inputName(def.key);
  const invalid = (input = name, key = `field.${def.key}.invalid`) => ({ ok: false as const, errors: { [input]: key } });
  if (def.storage === 'derived') return { ok: false, errors: { [name]: 'field.not_editable' } };
  if (def.kind === 'address') {
    const values: Record<string, string> = {};
    const errors: Record<string, string> = {};
    for (const p of ADDRESS_PARTS) values[p.part] = read(inputName(def.key, p.part), p.maxLength + 5).replace(/\s+/g, ' ');
    if (!values.country) values.country = 'BR';
    values.country = values.country.toUpperCase();
    values.region = values.region!.toUpperCase();
    if (Object.entries(values).every(([k, v]) => !v || k === 'country')) return { ok: true, value: null };
    for (const p of ADDRESS_PARTS) {
      const v = values[p.part]!;
      if (p.required && !v) errors[inputName(def.key, p.part)] = `field.address.${p.part}.required`;
      else if (v.length > p.maxLength) errors[inputName(def.key, p.part)] = `field.address.${p.part}.invalid`;
    }
    if (!isCountryCode(values.country)) errors[inputName(def.key, 'country')] = 'field.address.country.invalid';
    if (values.country === 'BR') {
      const cep = normalizeCep(values.postal_code!);
      if (values.postal_code && !cep) errors[inputName(def.key, 'postal_code')] = 'field.address.postal_code.invalid';
      else if (cep) values.postal_code = cep;
      if (values.region && !(BRAZIL_REGIONS as readonly string[]).includes(values.region)) {
        errors[inputName(def.key, 'region')] = 'field.address.region.invalid';
      }
    }
    if (Object.keys(errors).length) return { ok: false, errors };
    const address: Address = {
      street_address: values.street_address!,
      number: values.number!,
      locality: values.locality!,
      region: values.region!,
      postal_code: values.postal_code!,
      country: values.country,
      ...(values.complement ? { complement: values.complement } : {}),
      ...(values.neighbourhood ? { neighbourhood: values.neighbourhood } : {}),
    };
    return { ok: true, value: address };
  }
  const raw = read(name, (def.maxLength ?? 200) + 50);
  if (!raw) return { ok: true, value: null };
  if (def.maxLength && raw.length > def.maxLength) return invalid();
  switch (def.kind) {
    case 'text': {
      const v = raw.replace(/\s+/g, ' ');
      if (v.length < 2 || !/\p{L}/u.test(v)) return invalid();
      if (def.key === 'name' || def.key === 'mother_name') {
        if (!v.includes(' ')) return invalid();
      }
      return { ok: true, value: v };
    }
    case 'date':
      return isPastDate(raw) ? { ok: true, value: raw } : invalid();
    case 'email':
      return isEmail(raw) ? { ok: true, value: raw } : invalid();
    case 'phone': {
      // Pages of a Brazilian city: a number typed without +country is Brazilian.
      const phone = normalizePhone(raw, 'BR');
      return phone ? { ok: true, value: phone } : invalid();
    }
    case 'cpf': {
      const cpf = normalizeCpf(raw);
      return cpf ? { ok: true, value: cpf } : invalid();
    }
    case 'choice':
      return def.choices?.includes(raw) ? { ok: true, value: raw } : invalid();
    case 'country': {
      const code = raw.toUpperCase();
      return isCountryCode(code) ? { ok: true, value: code } : invalid();
    }
    case 'document': {
      // As printed, without the spaces and dashes people type: letters and digits, upper-case.
      const v = raw.replace(/[\s.-]/g, '').toUpperCase();
      if (def.key === 'rnm') return /^[A-Z]\d{6}[A-Z0-9]$/.test(v) ? { ok: true, value: v } : invalid();
      return /^[A-Z0-9]{5,20}$/.test(v) ? { ok: true, value: v } : invalid();
    }
  }
  return invalid();
}

/** The form values that show a stored value again (for pre-filled forms). */
export function formValues(def: FieldDef, value: FieldValue | null | undefined): Record<string, string> {
  if (value === null || value === undefined || Array.isArray(value)) return {};
  if (def.kind === 'address' && typeof value === 'object') {
    return Object.fromEntries(ADDRESS_PARTS.map((p) => [inputName(def.key, p.part), (value as Record<string, string>)[p.part] ?? '']));
  }
  return { [inputName(def.key)]: String(value) };
}

/** The claim value released to a service. */
export function claimValue(def: FieldDef, value: FieldValue): unknown {
  if (Array.isArray(value)) return value.map((c) => ({ cnpj: c.cnpj, name: c.name }));
  if (def.kind === 'address' && typeof value === 'object') {
    const a = value;
    const line1 = [a.street_address, a.number, a.complement].filter(Boolean).join(', ');
    const formatted = [line1, a.neighbourhood, `${a.locality} - ${a.region}`, a.postal_code, a.country].filter(Boolean).join('\n');
    return { formatted, ...a };
  }
  return value;
}
