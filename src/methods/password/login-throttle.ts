import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';

/**
 * Failed password checks slow down per identifier and per client address. The identifier key is a
 * keyed digest of what was typed, so it throttles the same way whether or not the account exists.
 *
 * Per identifier: 3 free failures, then 2^(n-3) seconds (capped at 15 minutes); from 20
 * consecutive failures the identifier is locked for an hour (NIST 800-63B asks for at most 100).
 * Per address: 20 free failures, then the same growth; it protects against spraying many accounts.
 */
export const ACCOUNT_FREE_FAILURES = 3;
export const ACCOUNT_HARD_STOP = 20;
export const ADDRESS_FREE_FAILURES = 20;

export type ThrottleKeys = { account: string; address: string };

function delaySeconds(failures: number, free: number): number {
  if (failures < free) return 0;
  return Math.min(2 ** (failures - free), 15 * 60);
}

export function createLoginThrottle(db: Db) {
  return {
    /** When the next attempt is allowed, or null if now. */
    async blockedUntil(keys: ThrottleKeys): Promise<Date | null> {
      const rows = await db
        .selectFrom('login_throttle')
        .select(['locked_until'])
        .where('key', 'in', [keys.account, keys.address])
        .where('locked_until', '>', sql<Date>`now()`)
        .execute();
      const times = rows.map((r) => new Date(r.locked_until!).getTime());
      return times.length ? new Date(Math.max(...times)) : null;
    },

    async recordFailure(keys: ThrottleKeys): Promise<Date | null> {
      let latest: Date | null = null;
      for (const [key, free] of [
        [keys.account, ACCOUNT_FREE_FAILURES],
        [keys.address, ADDRESS_FREE_FAILURES],
      ] as const) {
        const row = await db
          .insertInto('login_throttle')
          .values({ key, failures: 1, locked_until: null })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet({
              // A day without failures starts the count again.
              failures: sql<number>`case when login_throttle.last_failure_at < now() - interval '1 day' then 1 else login_throttle.failures + 1 end`,
              last_failure_at: sql<Date>`now()`,
            }),
          )
          .returning('failures')
          .executeTakeFirstOrThrow();
        const failures = row.failures;
        const seconds =
          key === keys.account && failures >= ACCOUNT_HARD_STOP ? 3600 : delaySeconds(failures, free);
        if (seconds > 0) {
          const until = new Date(Date.now() + seconds * 1000);
          await db.updateTable('login_throttle').set({ locked_until: until }).where('key', '=', key).execute();
          if (!latest || until > latest) latest = until;
        }
      }
      return latest;
    },

    async recordSuccess(keys: ThrottleKeys): Promise<void> {
      await db.deleteFrom('login_throttle').where('key', '=', keys.account).execute();
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;
