import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';
import { describeBrowser } from '../platform/user-agent.ts';

/** A provider session lives at most this long (oidc/provider.ts TTL.Session): older rows are pruned. */
const KEEP_DAYS = 15;

export type SessionUse = { sessionUid: string; accountId: string; ip: string; userAgent: string | null };

export type SessionActivity = {
  sessionUid: string;
  ip: string | null;
  browser: string | null;
  system: string | null;
  firstAt: Date;
  lastAt: Date;
};

/**
 * Where and when each of the citizen's sessions was used (migration 0056): what the list of
 * signed-in sessions shows beside the provider's own rows (which keep neither). Written at every
 * authorization through the session; the browser kept as a summary, not its User-Agent.
 */
export function createSessionActivity(db: Db) {
  return {
    async touch(use: SessionUse): Promise<void> {
      const { browser, system } = describeBrowser(use.userAgent);
      await db
        .insertInto('session_activity')
        .values({
          session_uid: use.sessionUid.slice(0, 100),
          citizen_id: use.accountId,
          ip: use.ip.slice(0, 64),
          browser,
          system,
        })
        .onConflict((oc) =>
          oc.column('session_uid').doUpdateSet({
            ip: (eb) => eb.ref('excluded.ip'),
            browser: (eb) => eb.ref('excluded.browser'),
            system: (eb) => eb.ref('excluded.system'),
            last_at: sql<Date>`now()`,
          }),
        )
        .execute();
    },

    async forCitizen(citizenId: string): Promise<Map<string, SessionActivity>> {
      const rows = await db
        .selectFrom('session_activity')
        .selectAll()
        .where('citizen_id', '=', citizenId)
        .execute();
      return new Map(
        rows.map((r) => [
          r.session_uid,
          {
            sessionUid: r.session_uid,
            ip: r.ip,
            browser: r.browser,
            system: r.system,
            firstAt: r.first_at,
            lastAt: r.last_at,
          },
        ]),
      );
    },

    /** The sessions ended go from the list with their provider rows. */
    async forget(
      trx: Db,
      citizenId: string,
      which: { uids: string[] } | { exceptUid: string },
    ): Promise<void> {
      if ('uids' in which && which.uids.length === 0) return;
      await trx
        .deleteFrom('session_activity')
        .where('citizen_id', '=', citizenId)
        .where('session_uid', 'uids' in which ? 'in' : '<>', 'uids' in which ? which.uids : which.exceptUid)
        .execute();
    },

    async prune(): Promise<void> {
      await db
        .deleteFrom('session_activity')
        .where('last_at', '<', sql<Date>`now() - make_interval(days => ${KEEP_DAYS})`)
        .execute();
    },
  };
}

export type SessionActivityStore = ReturnType<typeof createSessionActivity>;

export const sessionActivityEraser: Eraser = {
  name: 'identity/session-activity',
  erases: { session_activity: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('session_activity').where('citizen_id', '=', citizenId).execute();
  },
};
