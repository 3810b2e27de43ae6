import { CompiledQuery, sql } from 'kysely';
import { errors } from 'oidc-provider';
import type { Db } from '../db/database.ts';

/**
 * oidc-provider's storage, one table for every model (Session, Interaction, AuthorizationCode,
 * AccessToken, RefreshToken, Grant, ...). Because all state is here, any copy of the server can
 * answer any request. Clients are not stored here: they come from `services` (`clientMetadata` in
 * services/service-store.ts, checked by services/client-types.ts). The rest of the code changes
 * these rows only through provider-state.ts.
 */
type Payload = Record<string, unknown> & {
  grantId?: string;
  userCode?: string;
  uid?: string;
  consumed?: number;
  accountId?: string;
  clientId?: string;
  /** Interactions: the session they started in, the login they ended with, the request. */
  session?: { accountId?: string };
  result?: { login?: { accountId?: string } };
  params?: { client_id?: unknown };
};

/**
 * The account and the service a row belongs to, as columns, so that provider-state.ts ends an
 * account's sessions or a service's grants by index. Tokens, codes, grants and sessions carry
 * them at the top; an interaction in its session, its result and its request.
 */
function owners(payload: Payload): [string | null, string | null] {
  const account = payload.accountId ?? payload.session?.accountId ?? payload.result?.login?.accountId ?? null;
  const client = payload.clientId ?? (typeof payload.params?.client_id === 'string' ? payload.params.client_id : null);
  return [account, client];
}

export type AdapterClass = new (model: string) => {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
};

/**
 * The adapter's statements, written once. Every authorization, token, userinfo and session request
 * runs several of them, and building and compiling each with Kysely's query builder cost 70–90 µs
 * on the benchmark machine (docs/benchmarks.md): they are plain SQL, compiled here once.
 */
const live = '(expires_at is null or expires_at > now())';
const SQL = {
  upsert: `insert into oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at, account_id, client_id)
    values ($1, $2, $3, $4, $5, $6, $7, null, $8, $9)
    on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
      user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at,
      account_id = excluded.account_id, client_id = excluded.client_id`,
  findBy: {
    id: `select payload, consumed_at from oidc_payloads where model = $1 and id = $2 and ${live}`,
    user_code: `select payload, consumed_at from oidc_payloads where model = $1 and user_code = $2 and ${live}`,
    uid: `select payload, consumed_at from oidc_payloads where model = $1 and uid = $2 and ${live}`,
  },
  // Compare-and-set: only the first of parallel consumers sees its row come back.
  consume: `update oidc_payloads set consumed_at = now()
    where model = $1 and id = $2 and consumed_at is null returning id`,
  grantOf: 'select grant_id from oidc_payloads where model = $1 and id = $2',
  // The grant and everything issued under it (codes, access and refresh tokens, any model).
  revokeGrant: `delete from oidc_payloads where grant_id = $1 or (model = 'Grant' and id = $1)`,
  destroy: 'delete from oidc_payloads where model = $1 and id = $2',
  revokeByGrantId: 'delete from oidc_payloads where model = $1 and grant_id = $2',
};

export function createAdapterClass(
  db: Db,
  findClient: (id: string) => Promise<Payload | undefined>,
): AdapterClass {
  const run = <R = unknown>(text: string, parameters: unknown[]) =>
    db.executeQuery<R>(CompiledQuery.raw(text, parameters));
  return class DatabaseAdapter {
    model: string;
    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
      await run(SQL.upsert, [
        this.model,
        id,
        JSON.stringify(payload),
        payload.grantId ?? null,
        payload.userCode ?? null,
        payload.uid ?? null,
        expiresAt,
        ...owners(payload),
      ]);
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
      const { rows } = await run<{ payload: Payload; consumed_at: Date | string | null }>(
        SQL.findBy[column],
        [this.model, value],
      );
      const row = rows[0];
      if (!row) return undefined;
      const payload = row.payload;
      if (row.consumed_at) payload.consumed = Math.floor(new Date(row.consumed_at).getTime() / 1000);
      return payload;
    }

    /**
     * Marks a code or refresh token used, once. oidc-provider reads the token, checks that it is
     * not consumed, then calls this: two parallel requests with the same token both pass its check,
     * so the check that counts is here. The request that finds the token already consumed is a
     * reuse, handled as oidc-provider handles a sequential one (RFC 9700 §2.2.2, §4.14.2): the
     * grant and all it issued are revoked and the request fails with invalid_grant. The winner's
     * tokens, written after this, hang off a grant that no longer exists and are refused.
     */
    async consume(id: string): Promise<void> {
      const { rows } = await run(SQL.consume, [this.model, id]);
      if (rows.length === 1) return;
      const grant = (await run<{ grant_id: string | null }>(SQL.grantOf, [this.model, id])).rows[0]?.grant_id;
      if (grant) await run(SQL.revokeGrant, [grant]);
      if (this.model === 'RefreshToken') throw new errors.InvalidGrant('refresh token already used');
      if (this.model === 'AuthorizationCode') throw new errors.InvalidGrant('authorization code already consumed');
      throw new errors.InvalidRequest(`${this.model} already used`);
    }

    async destroy(id: string): Promise<void> {
      await run(SQL.destroy, [this.model, id]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await run(SQL.revokeByGrantId, [this.model, grantId]);
    }
  };
}

/** Removes expired rows; run periodically by the server. */
export async function pruneExpired(db: Db): Promise<number> {
  const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
  return Number(result.numDeletedRows);
}
