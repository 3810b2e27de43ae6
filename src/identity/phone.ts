import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** A mobile number in E.164; Brazilian numbers may be typed without +55. */
export function normalizePhone(input: string): string | null {
  const trimmed = input.trim();
  if (!/^[+\d\s().-]{8,25}$/.test(trimmed)) return null;
  const parsed = parsePhoneNumberFromString(trimmed, 'BR');
  if (!parsed || !parsed.isValid()) return null;
  const type = parsed.getType();
  if (type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') return null;
  return parsed.number;
}
