import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import type { Eraser } from '../../platform/erasure.ts';
import { randomId } from '../../security/secrets.ts';

/** A challenge is good for five minutes and once. */
export const CHALLENGE_SECONDS = 5 * 60;

export type StoredPasskey = {
  id: string;
  citizenId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  attachment: string | null;
  userHandle: string;
};

/**
 * Passkeys are rows of `credentials` (type `passkey`, the public key and counter in `data`); the
 * challenges handed to browsers are rows of `webauthn_challenges`, each spent once.
 */
export function createPasskeyStore(db: Db) {
  return {
    async saveChallenge(input: { purpose: 'registration' | 'authentication'; challenge: string; citizenId?: string; interactionUid?: string }, trx: Db = db) {
      await trx.deleteFrom('webauthn_challenges').where('expires_at', '<', sql<Date>`now()`).execute();
      await trx
        .insertInto('webauthn_challenges')
        .values({
          id: randomId(),
          purpose: input.purpose,
          challenge: input.challenge,
          citizen_id: input.citizenId ?? null,
          interaction_uid: input.interactionUid ?? null,
          expires_at: sql<Date>`now() + make_interval(secs => ${CHALLENGE_SECONDS})`,
        })
        .execute();
    },

    /** Spends the challenge if it was handed out for this purpose and holder and is still good. */
    async consumeChallenge(input: { purpose: 'registration' | 'authentication'; challenge: string; citizenId?: string; interactionUid?: string }, trx: Db = db): Promise<boolean> {
      let query = trx
        .deleteFrom('webauthn_challenges')
        .where('purpose', '=', input.purpose)
        .where('challenge', '=', input.challenge)
        .where('expires_at', '>', sql<Date>`now()`);
      query = input.citizenId ? query.where('citizen_id', '=', input.citizenId) : query.where('citizen_id', 'is', null);
      query = input.interactionUid ? query.where('interaction_uid', '=', input.interactionUid) : query.where('interaction_uid', 'is', null);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    async list(citizenId: string, trx: Db = db): Promise<StoredPasskey[]> {
      const rows = await trx.selectFrom('credentials').selectAll().where('citizen_id', '=', citizenId).where('type', '=', 'passkey').orderBy('created_at').execute();
      return rows.map(toPasskey);
    },

    async byCredentialId(credentialId: string, trx: Db = db): Promise<StoredPasskey | undefined> {
      const row = await trx
        .selectFrom('credentials')
        .selectAll()
        .where('type', '=', 'passkey')
        .where(sql<string>`data ->> 'credentialId'`, '=', credentialId)
        .executeTakeFirst();
      return row ? toPasskey(row) : undefined;
    },

    async add(citizenId: string, value: Omit<StoredPasskey, 'id' | 'citizenId'>, trx: Db = db): Promise<string> {
      const id = randomId(18);
      await trx
        .insertInto('credentials')
        .values({ id, citizen_id: citizenId, type: 'passkey', secret: null, data: JSON.stringify(value) })
        .execute();
      return id;
    },

    /**
     * Records a use: the new signature counter, only if it moved forward from the one read (two
     * requests with one assertion: one wins), and the time.
     */
    async used(id: string, from: number, to: number, trx: Db = db): Promise<boolean> {
      const result = await trx
        .updateTable('credentials')
        .set({ data: sql`jsonb_set(data, '{counter}', to_jsonb(${to}::bigint))`, last_used_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where(sql<boolean>`(data ->> 'counter')::bigint = ${from}`)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

function toPasskey(r: { id: string; citizen_id: string; data: Record<string, unknown> }): StoredPasskey {
  const d = r.data ?? {};
  return {
    id: r.id,
    citizenId: r.citizen_id,
    credentialId: String(d.credentialId),
    publicKey: String(d.publicKey),
    counter: Number(d.counter ?? 0),
    transports: Array.isArray(d.transports) ? (d.transports as string[]) : [],
    name: String(d.name ?? ''),
    attachment: typeof d.attachment === 'string' ? d.attachment : null,
    userHandle: String(d.userHandle ?? ''),
  };
}

export type PasskeyStore = ReturnType<typeof createPasskeyStore>;

/** Challenges handed to an account's browser go with it (its passkeys are credentials: that eraser). */
export const webauthnChallengesEraser: Eraser = {
  name: 'methods/passkey',
  erases: { webauthn_challenges: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('webauthn_challenges').where('citizen_id', '=', citizenId).execute();
  },
};
