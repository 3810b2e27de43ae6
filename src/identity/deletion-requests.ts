import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';
import type { LifecycleResult } from './account-lifecycle.ts';

export type DeletionRequest = { requestedAt: Date; dueAt: Date; confirmedBy: 'password' | 'code' };

/**
 * The citizen's own request to delete the account (LGPD art. 18 VI, decision 28): kept for a grace
 * period in which the citizen can undo it; then the purge runs every module's eraser
 * (src/personal-data.ts) and the consented services receive `account.purged` on their queues.
 */
export function createDeletionRequests(db: Db, deps: { graceDays: number }) {
  return {
    graceDays: deps.graceDays,

    async pending(citizenId: string, trx: Db = db): Promise<DeletionRequest | undefined> {
      const row = await trx
        .selectFrom('account_deletions')
        .selectAll()
        .where('citizen_id', '=', citizenId)
        .executeTakeFirst();
      return row
        ? { requestedAt: row.requested_at, dueAt: row.due_at, confirmedBy: row.confirmed_by }
        : undefined;
    },

    /** Schedules the purge in the caller's transaction; a second request keeps the first date. */
    async request(trx: Db, citizenId: string, confirmedBy: 'password' | 'code'): Promise<DeletionRequest> {
      await trx
        .insertInto('account_deletions')
        .values({
          citizen_id: citizenId,
          confirmed_by: confirmedBy,
          due_at: sql<Date>`now() + make_interval(days => ${deps.graceDays})`,
        })
        .onConflict((oc) => oc.column('citizen_id').doNothing())
        .execute();
      const row = await trx
        .selectFrom('account_deletions')
        .selectAll()
        .where('citizen_id', '=', citizenId)
        .executeTakeFirstOrThrow();
      return { requestedAt: row.requested_at, dueAt: row.due_at, confirmedBy: row.confirmed_by };
    },

    /** Undoes a pending request; false when there was none (already purged, or never asked). */
    async cancel(trx: Db, citizenId: string): Promise<boolean> {
      const gone = await trx
        .deleteFrom('account_deletions')
        .where('citizen_id', '=', citizenId)
        .executeTakeFirst();
      return Number(gone.numDeletedRows) > 0;
    },

    /**
     * Purges every account whose grace period is over, one transaction each (the purge locks the
     * row; a request cancelled meanwhile is skipped). Run at start and by the server's timer; any
     * number of copies may run it at once (`skip locked`).
     */
    async purgeDue(
      purgeIn: (trx: Db, citizenId: string) => Promise<LifecycleResult>,
      limit = 100,
    ): Promise<number> {
      let purged = 0;
      for (let i = 0; i < limit; i++) {
        const done = await db.transaction().execute(async (trx) => {
          const due = await trx
            .selectFrom('account_deletions')
            .select('citizen_id')
            .where('due_at', '<=', sql<Date>`now()`)
            .orderBy('due_at')
            .limit(1)
            .forUpdate()
            .skipLocked()
            .executeTakeFirst();
          if (!due) return false;
          await purgeIn(trx, due.citizen_id);
          // The eraser removed the row with the rest; an account already deleted leaves it here.
          await trx.deleteFrom('account_deletions').where('citizen_id', '=', due.citizen_id).execute();
          return true;
        });
        if (!done) break;
        purged++;
      }
      return purged;
    },
  };
}

export type DeletionRequests = ReturnType<typeof createDeletionRequests>;

export const deletionRequestsEraser: Eraser = {
  name: 'identity/deletion-requests',
  erases: { account_deletions: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('account_deletions').where('citizen_id', '=', citizenId).execute();
  },
};
