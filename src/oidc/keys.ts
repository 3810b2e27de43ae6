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

/** Keys still published: active ones and those retired less than the grace period ago. */
const published = sql<boolean>`retired_at is null or retired_at > now() - make_interval(secs => ${RETIRED_KEY_GRACE_SECONDS})`;

/**
 * Which keys sign, first to last: active keys older than `signAfterSeconds`, then the most recently
 * retired ones, then active keys younger than that. So after `cidadela keys rotate` the old keys go
 * on signing until every running copy has had time to publish the new ones (a service that fetches
 * the JWKS from any copy then finds the kid it was given). A new installation signs at once: its
 * young keys are the only ones.
 */
function signingOrder(signAfterSeconds: number) {
  return sql`case when retired_at is null and created_at <= now() - make_interval(secs => ${signAfterSeconds}) then 0
    when retired_at is not null then 1 else 2 end`;
}

/**
 * The signing keys the provider uses, ordered so the first of each algorithm signs (ES256 is the
 * default signer; see `signingOrder`); the rest are published in the JWKS, never used to sign.
 * Generates the first pair on first start; concurrent starts agree through an advisory lock.
 */
export async function loadSigningKeys(db: Db, secrets: Secrets, options: { signAfterSeconds?: number } = {}): Promise<PrivateJwk[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(7301944212)`.execute(trx);
    const active = await trx.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).execute();
    if (active.length === 0) await insertKeys(trx as unknown as Db, secrets, [generate('ES256'), generate('RS256')]);
    const rows = await trx
      .selectFrom('signing_keys')
      .selectAll()
      .where(published)
      .orderBy(signingOrder(options.signAfterSeconds ?? 0))
      .orderBy(sql`case alg when 'ES256' then 0 else 1 end`)
      .orderBy(sql`coalesce(retired_at, created_at)`, 'desc')
      .execute();
    return rows.map((r) => JSON.parse(secrets.open(r.encrypted_jwk)) as PrivateJwk);
  });
}

/**
 * A cheap fingerprint of what `loadSigningKeys` would return: which keys are published and which
 * group of `signingOrder` each is in. Running servers poll it to notice a rotation.
 */
export async function signingKeysVersion(db: Db, options: { signAfterSeconds?: number } = {}): Promise<string> {
  const rows = await db
    .selectFrom('signing_keys')
    .select(['kid', sql<number>`${signingOrder(options.signAfterSeconds ?? 0)}`.as('rank')])
    .where(published)
    .orderBy('kid')
    .execute();
  return rows.map((r) => `${r.kid}:${r.rank}`).join(',');
}

/**
 * New ES256 and RS256 keys. Running servers publish them at their next poll and sign with them once
 * they are older than the servers' `signAfterSeconds` (a restarted one too); the old ones stay
 * published for a day.
 */
export async function rotateSigningKeys(db: Db, secrets: Secrets): Promise<string[]> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(7301944212)`.execute(trx);
    await trx.updateTable('signing_keys').set({ retired_at: sql<Date>`now()` }).where('retired_at', 'is', null).execute();
    const fresh = [generate('ES256'), generate('RS256')];
    await insertKeys(trx as unknown as Db, secrets, fresh);
    return fresh.map((k) => k.kid);
  });
}
