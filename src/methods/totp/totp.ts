import * as OTPAuth from 'otpauth';
import QRCode from 'qrcode';
import { createCredentialStore } from '../../identity/credential-store.ts';
import type { SignInMethod } from '../method.ts';

/**
 * Codes from an authenticator app (RFC 6238: HMAC-SHA-1, 6 digits, 30 s), the form every common app
 * reads from a QR code. A code of the current step or of the one just before or after is accepted
 * (clocks drift); older ones are not.
 */
export const TOTP_PERIOD = 30;
export const TOTP_DIGITS = 6;
export const TOTP_WINDOW = 1;

/** Something the citizen has (the phone with the app), RFC 8176 `otp`. */
export const totpMethod: SignInMethod = {
  id: 'totp',
  factor: 'possession',
  amr: ['otp'],
  assurance: 'bronze',
  has: async (citizen, db) => Boolean(await createCredentialStore(db).get(citizen.id, 'totp', db)),
};

function totpFor(base32: string, label = 'Cidadela') {
  return new OTPAuth.TOTP({
    issuer: 'Cidadela',
    label,
    algorithm: 'SHA1',
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD,
    secret: OTPAuth.Secret.fromBase32(base32),
  });
}

/** A new secret (160 bits, RFC 4226's recommended length), in base32 as apps show and type it. */
export function newTotpSecret(): string {
  return new OTPAuth.Secret({ size: 20 }).base32;
}

/** The otpauth:// URI the app reads from the QR code; `label` is what the app lists (never a CPF). */
export function totpUri(base32: string, label: string): string {
  return totpFor(base32, label).toString();
}

/** The QR code of the URI as an SVG drawn here (no image service sees the secret). */
export async function totpQrSvg(uri: string): Promise<string> {
  return QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/** The base32 secret in groups of four, easier to type into an app by hand. */
export const groupedSecret = (base32: string) => base32.replace(/(.{4})(?=.)/g, '$1 ');

export type TotpMatch = { ok: true; step: number } | { ok: false; code: 'totp.format' | 'totp.invalid' };

/** Spaces and hyphens people type inside a code are dropped; anything but six digits is refused. */
export function normaliseCode(typed: string): string | undefined {
  const code = typed.replace(/[\s-]/g, '');
  return /^\d{6}$/.test(code) ? code : undefined;
}

/**
 * Which time step `typed` is the code of, within the window around `now`. The caller refuses a step
 * not after the last one accepted (RFC 6238 §5.2: a code is accepted once).
 */
export function matchCode(base32: string, typed: string, now = Date.now()): TotpMatch {
  const code = normaliseCode(typed);
  if (!code) return { ok: false, code: 'totp.format' };
  const totp = totpFor(base32);
  const delta = totp.validate({ token: code, timestamp: now, window: TOTP_WINDOW });
  if (delta === null) return { ok: false, code: 'totp.invalid' };
  return { ok: true, step: totp.counter({ timestamp: now }) + delta };
}

/** The code of `base32` at `timestamp` (tests compute codes as an app would). */
export function codeAt(base32: string, timestamp: number): string {
  return totpFor(base32).generate({ timestamp });
}
