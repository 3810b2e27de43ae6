import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { CredentialType } from '../db/schema.ts';
import type { Eraser } from '../platform/erasure.ts';
import { randomId } from '../security/secrets.ts';

export type { CredentialType };

/** Types a citizen has at most one of (passkeys and certificates may be many). */
export type SingleCredentialType = 'password' | 'totp' | 'secret_question' | 'recovery_codes';

/**
 * What proves a citizen is who they say, one row each: the password's argon2id hash today; later
 * an authenticator secret, passkeys, a secret question, recovery codes, certificates. Only the
 * method that owns a type reads its `secret`; `version` is the format of `secret` and `data`.
 */
export type Credential = {
  id: string;
  citizenId: string;
  type: CredentialType;
  secret: string | null;
  data: Record<string, unknown>;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
};

export type CredentialValue = { secret?: string | null; data?: Record<string, unknown>; version?: number };

function toCredential(r: {
  id: string;
  citizen_id: string;
  type: CredentialType;
  secret: string | null;
  data: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
  last_used_at: Date | null;
}): Credential {
  return {
    id: r.id,
    citizenId: r.citizen_id,
    type: r.type,
    secret: r.secret,
    data: r.data ?? {},
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastUsedAt: r.last_used_at,
  };
}

/** Each function takes the caller's transaction as its last argument when it has one. */
export function createCredentialStore(db: Db) {
  return {
    /** The citizen's credential of a single type, if they have one. */
    async get(citizenId: string, type: SingleCredentialType, trx: Db = db): Promise<Credential | undefined> {
      const row = await trx
        .selectFrom('credentials')
        .selectAll()
        .where('citizen_id', '=', citizenId)
        .where('type', '=', type)
        .executeTakeFirst();
      return row ? toCredential(row) : undefined;
    },

    /** The citizen's credentials, of one type or all, oldest first. */
    async list(citizenId: string, type?: CredentialType, trx: Db = db): Promise<Credential[]> {
      let query = trx.selectFrom('credentials').selectAll().where('citizen_id', '=', citizenId);
      if (type) query = query.where('type', '=', type);
      const rows = await query.orderBy('created_at').orderBy('id').execute();
      return rows.map(toCredential);
    },

    /** Sets the citizen's credential of a single type, replacing the one they had. */
    async set(
      citizenId: string,
      type: SingleCredentialType,
      value: CredentialValue,
      trx: Db = db,
    ): Promise<Credential> {
      const fields = {
        secret: value.secret ?? null,
        data: JSON.stringify(value.data ?? {}),
        version: value.version ?? 1,
      };
      // Update first: a set is most often a replacement (a rehash, a new password).
      const updated = await trx
        .updateTable('credentials')
        .set({ ...fields, updated_at: sql<Date>`now()` })
        .where('citizen_id', '=', citizenId)
        .where('type', '=', type)
        .returningAll()
        .executeTakeFirst();
      if (updated) return toCredential(updated);
      const row = await trx
        .insertInto('credentials')
        .values({ id: randomId(18), citizen_id: citizenId, type, ...fields })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toCredential(row);
    },

    /** Removes the citizen's credentials of a type; returns how many there were. */
    async remove(citizenId: string, type: CredentialType, trx: Db = db): Promise<number> {
      const result = await trx
        .deleteFrom('credentials')
        .where('citizen_id', '=', citizenId)
        .where('type', '=', type)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Records that a credential just proved its holder (shown to the citizen; old unused ones can go). */
    async markUsed(id: string, trx: Db = db): Promise<void> {
      await trx
        .updateTable('credentials')
        .set({ last_used_at: sql<Date>`now()` })
        .where('id', '=', id)
        .execute();
    },
  };
}

export type CredentialStore = ReturnType<typeof createCredentialStore>;

export const credentialsEraser: Eraser = {
  name: 'identity/credentials',
  erases: { credentials: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('credentials').where('citizen_id', '=', citizenId).execute();
  },
};
