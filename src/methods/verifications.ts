import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';
import { randomId } from '../security/secrets.ts';
import type { Factor, ProofPurpose, SignInMethod, TrustLevel } from './method.ts';

/**
 * Verification records: what was proven during one interaction, by which method, server-side. They
 * live as long as an interaction can (an hour) and are consumed when the sign-in completes.
 */
export const VERIFICATION_TTL_SECONDS = 60 * 60;

export type Verification = {
  id: string;
  interactionUid: string;
  citizenId: string;
  method: string;
  purpose: ProofPurpose;
  factor: Factor;
  amr: string[];
  assurance: TrustLevel;
  verifiedAt: Date;
};

export function createVerificationStore(db: Db) {
  return {
    /** Records that `method` proved something about the citizen in this interaction. */
    async record(
      input: {
        interactionUid: string;
        citizenId: string;
        method: Pick<SignInMethod, 'id' | 'factor' | 'amr' | 'assurance'>;
        purpose?: ProofPurpose;
        /** What this proof contributes to amr when it differs from the method's default (a certificate: `hwk` on a token, `swk` in software). */
        amr?: readonly string[];
        detail?: Record<string, unknown>;
      },
      trx: Db = db,
    ): Promise<void> {
      const purpose = input.purpose ?? 'authentication';
      await trx
        .insertInto('verifications')
        .values({
          id: randomId(),
          interaction_uid: input.interactionUid,
          citizen_id: input.citizenId,
          method: input.method.id,
          purpose,
          factor: input.method.factor,
          // Proving an address is not signing in: it adds nothing to amr.
          amr: purpose === 'authentication' ? [...(input.amr ?? input.method.amr)] : [],
          assurance: input.method.assurance,
          detail: JSON.stringify(input.detail ?? {}),
          expires_at: sql<Date>`now() + make_interval(secs => ${VERIFICATION_TTL_SECONDS})`,
        })
        .execute();
    },

    async forInteraction(interactionUid: string, trx: Db = db): Promise<Verification[]> {
      const rows = await trx
        .selectFrom('verifications')
        .selectAll()
        .where('interaction_uid', '=', interactionUid)
        .where('expires_at', '>', sql<Date>`now()`)
        .orderBy('verified_at')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        interactionUid: r.interaction_uid,
        citizenId: r.citizen_id,
        method: r.method,
        purpose: r.purpose,
        factor: r.factor,
        amr: r.amr,
        assurance: r.assurance as TrustLevel,
        verifiedAt: new Date(r.verified_at),
      }));
    },

    /** Consumed by the sign-in they served. */
    async consume(interactionUid: string, trx: Db = db): Promise<void> {
      await trx.deleteFrom('verifications').where('interaction_uid', '=', interactionUid).execute();
    },

    async prune(trx: Db = db): Promise<void> {
      await trx.deleteFrom('verifications').where('expires_at', '<', sql<Date>`now()`).execute();
    },

    async erase(trx: Db, citizenId: string): Promise<void> {
      await trx.deleteFrom('verifications').where('citizen_id', '=', citizenId).execute();
    },
  };
}

export type VerificationStore = ReturnType<typeof createVerificationStore>;

/** What an account proved in its interactions goes with it. */
export const verificationsEraser: Eraser = {
  name: 'methods/verifications',
  erases: { verifications: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('verifications').where('citizen_id', '=', citizenId).execute();
  },
};
