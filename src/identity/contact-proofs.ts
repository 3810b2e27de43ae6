import type { Db } from '../db/database.ts';
import { recordEvent } from '../events/outbox.ts';
import { AppError } from '../platform/errors.ts';
import { createCitizenStore, lockCitizen, writeProfile } from './citizen-store.ts';
import { takenKinds } from './identifiers.ts';

/**
 * What a proven address changes on the account, applied by the flow that asked for the proof, in
 * its transaction. A code proves an address; only these functions decide what that means.
 */

/** The citizen's current e-mail is theirs: marked verified (and told to the services) if it still is the one proven. */
export async function confirmEmail(trx: Db, citizenId: string, email: string): Promise<void> {
  const verified = await createCitizenStore(trx).markEmailVerified(citizenId, trx, email);
  if (verified) await recordEvent(trx, { type: 'email.verified', citizenId, email });
}

/**
 * A new address, proven, replaces the old one: a profile change for the services, then verified.
 * The row is locked first, so a concurrent write-back is neither lost nor undone.
 */
export async function replaceEmail(trx: Db, citizenId: string, email: string): Promise<{ previous: string | null }> {
  const citizen = await lockCitizen(trx, citizenId);
  if (!citizen) throw new AppError('interaction.expired', 400);
  // Any of another citizen's e-mails, not only their primary one.
  if ((await takenKinds(trx, [{ kind: 'email', value: email }], citizenId)).has('email')) {
    throw new AppError('identifier.email_taken', 409);
  }
  await writeProfile(trx, citizen, { email });
  await confirmEmail(trx, citizenId, email);
  return { previous: citizen.email };
}

/**
 * The citizen holds the number: marked verified (and told) if it still is the account's number.
 * `identifier.phone_taken` when another account proved it first: a proven number signs in, so it
 * belongs to one account (decision 13).
 */
export async function confirmPhone(trx: Db, citizenId: string, phone: string): Promise<void> {
  const marked = await createCitizenStore(trx).markPhoneVerified(citizenId, phone, trx);
  if (marked === 'taken') throw new AppError('identifier.phone_taken', 409);
  if (marked === 'verified') await recordEvent(trx, { type: 'phone.verified', citizenId, phone });
}

/**
 * A new mobile number, proven by the code sent to it, replaces the old one (a profile change for
 * the services) and is verified. Until then the old number stays, and keeps working.
 */
export async function replacePhone(trx: Db, citizenId: string, phone: string): Promise<void> {
  const citizen = await lockCitizen(trx, citizenId);
  if (!citizen) throw new AppError('interaction.expired', 400);
  await writeProfile(trx, citizen, { phone_number: phone });
  await confirmPhone(trx, citizenId, phone);
}
