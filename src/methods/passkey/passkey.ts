import type { SignInMethod } from '../method.ts';

/**
 * A passkey (WebAuthn): a key pair kept by the device or a security key, unlocked by the person
 * (fingerprint, face, PIN). With user verification it is two factors alone (RFC 8176: `hwk`/`swk`,
 * `user`, and `mfa`): it signs in without the password and is a second step after one.
 */
export const passkeyMethod: SignInMethod = {
  id: 'passkey',
  factor: 'possession',
  amr: ['swk', 'user', 'mfa'],
  assurance: 'bronze',
  has: async (citizen, db) =>
    Boolean(await db.selectFrom('credentials').select('id').where('citizen_id', '=', citizen.id).where('type', '=', 'passkey').executeTakeFirst()),
};

/** The amr of one passkey proof: a roaming security key is hardware (`hwk`); a platform passkey may be synced (`swk`). */
export function passkeyAmr(attachment: unknown): string[] {
  return [attachment === 'cross-platform' ? 'hwk' : 'swk', 'user', 'mfa'];
}
