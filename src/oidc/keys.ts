import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Secrets } from '../security/secrets.ts';

export type PrivateJwk = Record<string, unknown> & { kid: string; alg: string; use: 'sig' };

/** Longest life of anything signed with a key (refresh tokens are opaque; ID tokens live 1 h). */
export const RETIRED_KEY_GRACE_SECONDS = 24 * 60 * 60;

function generate(alg: 'ES256' | 'RS256'): PrivateJwk {
  const kid = randomBytes(12).toString('base64url');
  const { privateKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, alg, use: 'sig' };
}

async function insertKeys(db: Db, secrets: Secrets, keys: PrivateJwk[]): Promise<void> {
  await db
    .insertInto('signing_keys')
    .values(keys.map((k) => ({ kid: k.kid, alg: k.alg, encrypted_jwk: secrets.seal(JSON.stringify(k)), retired_at: null })))
    .execute();
}

/**
 * The signing keys the provider uses: active ES256 first (the default signer), then active RS256,
 * then retired keys still in their grace period (published in the JWKS, never used to sign).
 * Generates the first pair on first start; concurrent starts agree through an advisory lock.
 */
export async function loadSigningKeys(db: Db, secrets: Secrets): Promise<PrivateJwk[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(7301944212)`.execute(trx);
    const active = await trx.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).execute();
    if (active.length === 0) await insertKeys(trx as unknown as Db, secrets, [generate('ES256'), generate('RS256')]);
    const rows = await trx
      .selectFrom('signing_keys')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('retired_at', 'is', null),
          eb('retired_at', '>', sql<Date>`now() - make_interval(secs => ${RETIRED_KEY_GRACE_SECONDS})`),
        ]),
      )
      .orderBy(sql`retired_at is not null`)
      .orderBy(sql`case alg when 'ES256' then 0 else 1 end`)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map((r) => JSON.parse(secrets.open(r.encrypted_jwk)) as PrivateJwk);
  });
}

/** New ES256 and RS256 keys sign from the next start on; the old ones stay published for a day. */
export async function rotateSigningKeys(db: Db, secrets: Secrets): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(7301944212)`.execute(trx);
    await trx.updateTable('signing_keys').set({ retired_at: sql<Date>`now()` }).where('retired_at', 'is', null).execute();
    const fresh = [generate('ES256'), generate('RS256')];
    await insertKeys(trx as unknown as Db, secrets, fresh);
    return fresh.map((k) => k.kid);
  });
}
