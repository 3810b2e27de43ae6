import { sql } from 'kysely';
import type { Db } from '../db/database.ts';

/**
 * oidc-provider's storage, one table for every model (Session, Interaction, AuthorizationCode,
 * AccessToken, RefreshToken, Grant, ...). Because all state is here, any copy of the server can
 * answer any request. Clients are not stored here: they come from `services` (see clients.ts).
 */
type Payload = Record<string, unknown> & {
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
};

export type AdapterClass = new (model: string) => {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
};

export function createAdapterClass(
  db: Db,
  findClient: (id: string) => Promise<Payload | undefined>,
): AdapterClass {
  return class DatabaseAdapter {
    model: string;
    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
      await db
        .insertInto('oidc_payloads')
        .values({
          model: this.model,
          id,
          payload: JSON.stringify(payload),
          grant_id: payload.grantId ?? null,
          user_code: payload.userCode ?? null,
          uid: payload.uid ?? null,
          expires_at: expiresAt,
          consumed_at: null,
        })
        .onConflict((oc) =>
          oc.columns(['model', 'id']).doUpdateSet({
            payload: JSON.stringify(payload),
            grant_id: payload.grantId ?? null,
            user_code: payload.userCode ?? null,
            uid: payload.uid ?? null,
            expires_at: expiresAt,
          }),
        )
        .execute();
    }

    async find(id: string): Promise<Payload | undefined> {
      if (this.model === 'Client') return findClient(id);
      return this.#findBy('id', id);
    }

    findByUserCode(userCode: string): Promise<Payload | undefined> {
      return this.#findBy('user_code', userCode);
    }

    findByUid(uid: string): Promise<Payload | undefined> {
      return this.#findBy('uid', uid);
    }

    async #findBy(column: 'id' | 'user_code' | 'uid', value: string): Promise<Payload | undefined> {
      const row = await db
        .selectFrom('oidc_payloads')
        .select(['payload', 'consumed_at'])
        .where('model', '=', this.model)
        .where(column, '=', value)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
        .executeTakeFirst();
      if (!row) return undefined;
      const payload = row.payload as Payload;
      if (row.consumed_at) payload.consumed = Math.floor(new Date(row.consumed_at).getTime() / 1000);
      return payload;
    }

    async consume(id: string): Promise<void> {
      await db
        .updateTable('oidc_payloads')
        .set({ consumed_at: sql<Date>`now()` })
        .where('model', '=', this.model)
        .where('id', '=', id)
        .execute();
    }

    async destroy(id: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('model', '=', this.model).where('id', '=', id).execute();
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db.deleteFrom('oidc_payloads').where('model', '=', this.model).where('grant_id', '=', grantId).execute();
    }
  };
}

/** Removes expired rows; run periodically by the server. */
export async function pruneExpired(db: Db): Promise<number> {
  const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
  return Number(result.numDeletedRows);
}
