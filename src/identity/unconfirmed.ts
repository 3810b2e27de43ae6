import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { type IdentifierKey, type IdentifierKind, matchesAny } from './identifiers.ts';

export type Holder = { citizenId: string; kind: IdentifierKind; releasable: boolean };

/**
 * Who holds any of `keys`, and whether each may be released to a new registration: an account whose
 * e-mail was never confirmed and that has no confirmation code still alive. Whoever registered with
 * someone else's CPF or e-mail and never confirmed keeps it only as long as a code could still come
 * back; a confirmed account is never released.
 */
export async function holdersOf(db: Db, keys: IdentifierKey[]): Promise<Holder[]> {
  if (keys.length === 0) return [];
  const rows = await db
    .selectFrom('identifiers')
    .innerJoin('citizens', 'citizens.id', 'identifiers.citizen_id')
    .select([
      'identifiers.kind',
      'citizens.id',
      'citizens.email_verified',
      'citizens.status',
      sql<boolean>`exists (select 1 from flows f where f.citizen_id = citizens.id and f.kind = 'email_confirmation' and f.state <> 'done' and f.expires_at > now())`.as(
        'live_code',
      ),
    ])
    .where(matchesAny(keys))
    .execute();
  return rows.map((r) => ({
    citizenId: r.id,
    kind: r.kind,
    releasable: !r.email_verified && r.status === 'active' && !r.live_code,
  }));
}
