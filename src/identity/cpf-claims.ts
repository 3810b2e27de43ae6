import type { Db } from '../db/database.ts';
import { enqueueMail, enqueueSms } from '../messaging/message-queue.ts';
import { renderMail, renderSms } from '../messaging/templates.ts';
import type { Eraser } from '../platform/erasure.ts';
import type { Translate } from '../platform/i18n.ts';
import { randomId } from '../security/secrets.ts';
import { type Citizen, contactProven, lockCitizen, writeProfile } from './citizen-store.ts';
import { markIdentifierVerified } from './identifiers.ts';
import { smsAllowed } from './phone.ts';
import { createTrustLevels, type FieldEvidence } from './trust-levels.ts';

/**
 * Squatting a CPF (issue 8, finding 7). Anyone can register with someone else's CPF and confirm
 * their own e-mail; the CPF is then "taken" for its owner. When the owner of a confirmed account
 * proves the CPF — an ICP-Brasil certificate naming it, or an attendant's check in person — the
 * proof wins over an account that only ever declared it: that account is held (disabled, its
 * sessions ended, its CPF released), told on the channels it proved, and the claim is recorded; the
 * prover's account gets the CPF, verified. An account that proved the CPF itself is never displaced:
 * two proofs of one CPF are for a person at the counter, not for code.
 *
 * One domain function for every source of proof: the certificate sign-in calls it, and so will the
 * attendant's console. The caller records what else its proof confirms (level, other fields).
 */

export type CpfProof = {
  /** `icp_brasil` (a certificate) or `in_person` (an attendant). */
  trustFramework: string;
  evidence: FieldEvidence;
};

/** Why a claim was refused: the last part of a locale key `cpf_claim.<reason>`. */
export type CpfClaimRefusal = 'prover_unavailable' | 'other_cpf' | 'proven_elsewhere';

export type CpfClaimResult =
  /** The prover's account already has this CPF: nothing to claim. */
  | { outcome: 'own' }
  /** The CPF is the prover's now; `held` is the account it was taken from, if any. */
  | { outcome: 'claimed'; held: string | null }
  | { outcome: 'refused'; reason: CpfClaimRefusal };

export type CpfClaimDeps = {
  /** Disables an account in the caller's transaction (account-lifecycle.ts `disableIn`). */
  disableIn(trx: Db, citizenId: string): Promise<unknown>;
  /** Messages in the held account's own language. */
  translator(locale: string | null): Translate;
  /** SMS_COUNTRIES: a notice by SMS only to an enabled country. */
  smsCountries: readonly string[];
  /** A public address the notice may point to (the recovery page). */
  publicUrl: string;
};

async function holderOf(trx: Db, cpf: string, except: string): Promise<string | undefined> {
  const row = await trx
    .selectFrom('identifiers')
    .select('citizen_id')
    .where('kind', '=', 'cpf')
    .where('value', '=', cpf)
    .where('citizen_id', '!=', except)
    .executeTakeFirst();
  return row?.citizen_id;
}

async function provedCpf(trx: Db, citizenId: string): Promise<boolean> {
  const row = await trx
    .selectFrom('field_verifications')
    .select('field')
    .where('citizen_id', '=', citizenId)
    .where('field', '=', 'cpf')
    .executeTakeFirst();
  return Boolean(row);
}

async function tellHeld(trx: Db, deps: CpfClaimDeps, held: Citizen): Promise<void> {
  const t = deps.translator(held.locale);
  const params = { link: `${deps.publicUrl}/` };
  if (held.email && held.emailVerified)
    await enqueueMail(trx, renderMail(t, 'cpf_claimed', held.email, params));
  if (held.phoneNumber && held.phoneNumberVerified && smsAllowed(held.phoneNumber, deps.smsCountries)) {
    await enqueueSms(trx, renderSms(t, 'cpf_claimed', held.phoneNumber, params));
  }
}

/**
 * The owner of `proverId` proved `cpf`. Inside the caller's transaction; rows are locked prover
 * first, then the holder, so two claims of one CPF run one after the other and the second finds
 * the CPF proven.
 */
export async function claimCpf(
  trx: Db,
  deps: CpfClaimDeps,
  input: { proverId: string; cpf: string; proof: CpfProof },
): Promise<CpfClaimResult> {
  const prover = await lockCitizen(trx, input.proverId);
  if (!prover || prover.status !== 'active' || !contactProven(prover))
    return { outcome: 'refused', reason: 'prover_unavailable' };
  if (prover.cpf === input.cpf) return { outcome: 'own' };
  // A CPF never changes once an account has one: a certificate of another CPF is another person.
  if (prover.cpf) return { outcome: 'refused', reason: 'other_cpf' };

  let held: string | null = null;
  const holderId = await holderOf(trx, input.cpf, prover.id);
  if (holderId) {
    const holder = await lockCitizen(trx, holderId);
    if (holder && holder.cpf === input.cpf) {
      if (await provedCpf(trx, holder.id)) return { outcome: 'refused', reason: 'proven_elsewhere' };
      // Released first (the CPF is unique), then held: the services it shared the CPF with learn
      // both, each with its own event.
      await writeProfile(trx, holder, { cpf: null });
      await deps.disableIn(trx, holder.id);
      await tellHeld(trx, deps, holder);
      await trx
        .insertInto('cpf_claims')
        .values({
          id: randomId(),
          citizen_id: holder.id,
          prover_id: prover.id,
          trust_framework: input.proof.trustFramework,
          evidence: JSON.stringify(input.proof.evidence),
        })
        .execute();
      held = holder.id;
    }
  }
  await writeProfile(trx, prover, { cpf: input.cpf });
  await markIdentifierVerified(trx, prover.id, { kind: 'cpf', value: input.cpf });
  await createTrustLevels(trx).verifyFields(
    trx,
    prover.id,
    ['cpf'],
    input.proof.trustFramework,
    input.proof.evidence,
  );
  return { outcome: 'claimed', held };
}

/** The claims an account made or lost go with it. */
export const cpfClaimsEraser: Eraser = {
  name: 'identity/cpf-claims',
  erases: { cpf_claims: 'deleted' },
  async erase(trx, citizenId) {
    await trx
      .deleteFrom('cpf_claims')
      .where((eb) => eb.or([eb('citizen_id', '=', citizenId), eb('prover_id', '=', citizenId)]))
      .execute();
  },
};
