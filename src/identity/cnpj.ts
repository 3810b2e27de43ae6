/**
 * CNPJ: 12 base characters and 2 check digits (mod 11, weights 2..9 from the right). Since the
 * Receita Federal's alphanumeric CNPJ (in force from July 2026) the base may hold letters A–Z,
 * each valued as its ASCII code minus 48 (so '0'..'9' keep their value and 'A' is 17); the check
 * digits stay numeric and the weights are the same, so every numeric CNPJ keeps validating.
 */

const BASE = /^[0-9A-Z]{12}$/;

function checkDigit(chars: string): number {
  let sum = 0;
  let weight = 2;
  for (let i = chars.length - 1; i >= 0; i--) {
    sum += (chars.charCodeAt(i) - 48) * weight;
    weight = weight === 9 ? 2 : weight + 1;
  }
  const r = sum % 11;
  return r < 2 ? 0 : 11 - r;
}

/** Accepts "12.ABC.345/01DE-35", "12ABC34501DE35" and lower case; returns the 14 characters upper-cased, or null. */
export function normalizeCnpj(input: string): string | null {
  const trimmed = input.trim().toUpperCase();
  if (!/^[0-9A-Z.\-/\s]+$/.test(trimmed)) return null;
  const chars = trimmed.replace(/[.\-/\s]/g, '');
  if (chars.length !== 14) return null;
  const base = chars.slice(0, 12);
  if (!BASE.test(base) || !/^\d{2}$/.test(chars.slice(12))) return null;
  // Repeated digits pass the arithmetic but are not issued (the Receita's own validators refuse them).
  if (/^(\d)\1{13}$/.test(chars)) return null;
  const first = checkDigit(base);
  const second = checkDigit(base + first);
  return chars === `${base}${first}${second}` ? chars : null;
}

/** Whether a valid CNPJ uses the alphanumeric form (any letter in its base). */
export function isAlphanumericCnpj(cnpj: string): boolean {
  return /[A-Z]/.test(cnpj);
}

export function formatCnpj(cnpj: string): string {
  return `${cnpj.slice(0, 2)}.${cnpj.slice(2, 5)}.${cnpj.slice(5, 8)}/${cnpj.slice(8, 12)}-${cnpj.slice(12)}`;
}

/** Makes a valid CNPJ from 12 base characters (tests and demo data). */
export function cnpjFromBase(base12: string): string {
  const base = base12.toUpperCase();
  if (!BASE.test(base)) throw new Error('a CNPJ base is 12 characters 0-9 or A-Z');
  const first = checkDigit(base);
  return `${base}${first}${checkDigit(base + first)}`;
}
