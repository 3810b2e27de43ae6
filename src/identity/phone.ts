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

/** Why a number typed for an SMS was refused, as the locale key's last part (`phone.<reason>`). */
export type PhoneRefusal = 'invalid' | 'not_mobile' | 'premium' | 'country_disabled';

export type MobileCheck = { ok: true; e164: string; country: CountryCode } | { ok: false; reason: PhoneRefusal };

/**
 * Whether a number may receive an SMS code, and why not, before anything is sent: it must be a
 * valid number (the `+` form, or the national form of `country`, or the country's digits without
 * `+`), of a mobile type (a fixed line cannot read a code; premium-rate and shared-cost ranges are
 * what SMS pumping abuses), of a country the operator enabled (SMS_COUNTRIES).
 */
export function checkMobile(input: string, country: CountryCode | null, enabled: readonly string[]): MobileCheck {
  const trimmed = input.trim();
  if (!/^[+\d\s().-]{6,25}$/.test(trimmed)) return { ok: false, reason: 'invalid' };
  let parsed = country ? parsePhoneNumberFromString(trimmed, country) : parsePhoneNumberFromString(trimmed);
  // "34 612 345 678": the country's digits typed without their +.
  if ((!parsed || !parsed.isValid()) && !trimmed.startsWith('+')) parsed = parsePhoneNumberFromString(`+${trimmed}`);
  if (!parsed || !parsed.isValid() || !parsed.country) return { ok: false, reason: 'invalid' };
  const type = parsed.getType();
  if (type === 'PREMIUM_RATE' || type === 'SHARED_COST') return { ok: false, reason: 'premium' };
  if (type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') return { ok: false, reason: 'not_mobile' };
  if (!enabled.includes(parsed.country)) return { ok: false, reason: 'country_disabled' };
  return { ok: true, e164: parsed.number, country: parsed.country };
}

/** The country of a number in E.164 ("+5541…" → "BR"), or null. */
export function phoneNumberCountry(e164: string): CountryCode | null {
  return parsePhoneNumberFromString(e164)?.country ?? null;
}

/**
 * Whether an SMS may go to a number already stored (E.164): only to a country the operator enabled
 * (SMS_COUNTRIES), whatever sends it — a code, a notice, a recovery. A number proven before its
 * country was disabled stays on the account, it just receives nothing by SMS.
 */
export function smsAllowed(e164: string, enabled: readonly string[]): boolean {
  const country = phoneNumberCountry(e164);
  return country !== null && enabled.includes(country);
}
