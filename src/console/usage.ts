import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';

/** How an access was made, from the session's amr (RFC 8176) and how old its sign-in is. */
export type AccessMethod = 'password' | 'certificate' | 'code' | 'sso';
const SSO_AFTER_SECONDS = 300;

export function accessMethod(amr: readonly string[], authTime: number | undefined, now = Date.now() / 1000): AccessMethod {
  // A session signed in minutes ago and reused at this service is single sign-on.
  if (typeof authTime === 'number' && now - authTime > SSO_AFTER_SECONDS) return 'sso';
  if (amr.includes('hwk') || amr.includes('swk')) return 'certificate';
  if (amr.includes('pwd')) return 'password';
  return 'code';
}

const TZ = 'America/Sao_Paulo';

/**
 * One access of a citizen at a service (an authorization the provider answered): one statement
 * that bumps the day's counters and, the first time this month, the unique-citizen counters, for
 * the service and overall (client_id '').
 */
export async function recordAccess(db: Db, access: { citizenId: string; clientId: string; method: AccessMethod }): Promise<void> {
  await sql`
    with today as (select (now() at time zone ${TZ})::date as day),
    seen as (
      insert into usage_seen (month, client_id, citizen_id)
      select date_trunc('month', day)::date, c, ${access.citizenId} from today, (values (${access.clientId}), ('')) as v(c)
      on conflict do nothing
      returning client_id
    )
    insert into usage_daily (day, client_id, metric, n)
    select day, c, m, count(*) from (
      select c, ${`signin_${access.method}`} as m from (values (${access.clientId}), ('')) as v(c)
      union all select client_id, 'unique_citizens' from seen
    ) x, today group by day, c, m
    on conflict (day, client_id, metric) do update set n = usage_daily.n + excluded.n`.execute(db);
}

export type UsageRow = { day: string; clientId: string; metric: string; n: number };

/** The counters of a period (days from..to inclusive) for one service or overall (''). */
export async function usageBetween(db: Db, clientId: string, from: string, to: string): Promise<UsageRow[]> {
  const { rows } = await sql<{ day: string; metric: string; n: string }>`
    select to_char(day, 'YYYY-MM-DD') as day, metric, n from usage_daily
    where client_id = ${clientId} and day between ${from}::date and ${to}::date order by day`.execute(db);
  return rows.map((r) => ({ day: r.day, clientId, metric: r.metric, n: Number(r.n) }));
}

/** Accounts created per day in the period (an index range on citizens.created_at). */
export async function registrationsBetween(db: Db, from: string, to: string): Promise<Map<string, number>> {
  const { rows } = await sql<{ day: string; n: string }>`
    select to_char((created_at at time zone ${TZ})::date, 'YYYY-MM-DD') as day, count(*) as n from citizens
    where created_at >= (${from}::date)::timestamp at time zone ${TZ} and created_at < ((${to}::date + 1)::timestamp at time zone ${TZ})
    group by 1`.execute(db);
  return new Map(rows.map((r) => [r.day, Number(r.n)]));
}

/** Active accounts per trust level, now. */
export async function levelDistribution(db: Db): Promise<Record<string, number>> {
  const { rows } = await sql<{ trust_level: string; n: string }>`select trust_level, count(*) as n from citizens where status = 'active' group by 1`.execute(db);
  return Object.fromEntries(rows.map((r) => [r.trust_level, Number(r.n)]));
}

export const usageEraser: Eraser = {
  name: 'console/usage',
  erases: { usage_seen: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('usage_seen').where('citizen_id', '=', citizenId).execute();
  },
};
