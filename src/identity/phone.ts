import { type CountryCode, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';

export type { CountryCode };

/**
 * A mobile number in E.164, or null. A number typed with its + prefix carries its own country; a
 * national form ("(41) 99999-0000") is read as a number of `country`, which every caller names, so
 * that a foreigner's number is never taken for a Brazilian one by a silent default; with `null`,
 * only the international form is accepted.
 */
export function normalizePhone(input: string, country: CountryCode | null): string | null {
  const trimmed = input.trim();
  if (!/^[+\d\s().-]{8,25}$/.test(trimmed)) return null;
  const parsed = country ? parsePhoneNumberFromString(trimmed, country) : parsePhoneNumberFromString(trimmed);
  if (!parsed || !parsed.isValid()) return null;
  const type = parsed.getType();
  if (type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') return null;
  return parsed.number;
}

/** An ISO 3166-1 alpha-2 code libphonenumber knows ("BR", "PT"), upper-cased; else null. */
export function phoneCountry(input: string): CountryCode | null {
  const code = input.trim().toUpperCase();
  return /^[A-Z]{2}$/.test(code) && isSupportedCountry(code) ? (code as CountryCode) : null;
}
