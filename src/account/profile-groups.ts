import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { formatCpf } from '../identity/cpf.ts';
import { ADDRESS_PARTS, FIELD_CATALOG, fieldDef, inputName } from '../identity/field-catalog.ts';

/** Where each field the citizen edits sits on /conta/dados; a field not named here joins `identity`. */
const GROUP_OF: Record<string, 'identity' | 'contact' | 'address' | 'preferences'> = {
  name: 'identity',
  social_name: 'identity',
  birthdate: 'identity',
  gender: 'identity',
  mother_name: 'identity',
  nationality: 'identity',
  passport_number: 'identity',
  passport_country: 'identity',
  rnm: 'identity',
  phone_number: 'contact',
  alternate_email: 'contact',
  address: 'address',
  locale: 'preferences',
};

const EDITABLE = FIELD_CATALOG.filter((f) => f.editable && f.key !== 'email').map((f) => f.key);

/** The groups of /conta/dados in the order shown, each with its fields in catalog order. */
export const PROFILE_GROUPS = (['identity', 'contact', 'address', 'preferences'] as const).map((id) => ({
  id,
  keys: EDITABLE.filter((key) => (GROUP_OF[key] ?? 'identity') === id),
}));

/** The inputs of these fields, in the order the page shows them (an address by its parts). */
export function inputOrder(keys: readonly string[]): string[] {
  return keys.flatMap((key) =>
    fieldDef(key)?.kind === 'address' ? ADDRESS_PARTS.map((p) => inputName(key, p.part)) : [inputName(key)],
  );
}

/** The errors in the order of the fields on the page, so the summary reads top to bottom. */
export function inFieldOrder(
  errors: Record<string, string>,
  keys: readonly string[],
): Record<string, string> {
  const order = inputOrder(keys);
  const rank = (name: string) => {
    const i = order.indexOf(name);
    return i === -1 ? order.length : i;
  };
  return Object.fromEntries(Object.entries(errors).sort(([a], [b]) => rank(a) - rank(b)));
}

/** A CPF with its middle shown and the ends hidden, as gov.br shows it: ***.456.789-** */
export function maskCpf(cpf: string): string {
  return formatCpf(cpf)
    .replace(/^\d{3}/, '***')
    .replace(/\d{2}$/, '**');
}

/** A number grouped as people write it (+55 11 98765 4321). */
export function formatPhone(e164: string): string {
  return parsePhoneNumberFromString(e164)?.formatInternational() ?? e164;
}

/** The notice after /conta/dados?salvo=…: what exactly was saved. */
export const SAVED_MESSAGES: Record<string, string> = {
  '1': 'profile.saved',
  email: 'profile.email_saved',
  celular: 'profile.phone_saved',
};
