import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { consentedServices, recordEvent } from '../events/outbox.ts';
import { type Eraser, eraseCitizen } from '../platform/erasure.ts';

export type LifecycleResult = 'done' | 'unchanged' | 'not_found';

/** What the lifecycle needs from the provider's storage (oidc/provider-state.ts implements it). */
/** A back-channel logout owed to a service whose session was ended: sent after the commit. */
export type OwedLogout = { clientId: string; sid: string };

export type AccountSessions = {
  /**
   * Ends the account's sessions, grants, tokens, codes and interactions, in the caller's
   * transaction; returns the back-channel logouts owed to the services those sessions reached.
   */
  endAccountSessions(trx: Db, accountId: string): Promise<OwedLogout[]>;
};

async function lockStatus(trx: Db, citizenId: string) {
  return trx
    .selectFrom('citizens')
    .select(['status'])
    .where('id', '=', citizenId)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * What an operator does to an account: disable it (no login, sessions and tokens end), enable it
 * again, or delete it (personal data purged, a tombstone row kept so its `sub` is never reused).
 * Each writes the event the consented services receive, in the same transaction.
 */
export function createAccountLifecycle(deps: {
  db: Db;
  provider: AccountSessions;
  /** Every module's eraser, in the order they run (src/personal-data.ts). */
  erasers: readonly Eraser[];
}) {
  const { db, provider, erasers } = deps;

  async function purgeIn(trx: Db, citizenId: string): Promise<LifecycleResult> {
    const row = await lockStatus(trx, citizenId);
    if (!row) return 'not_found';
    if (row.status === 'deleted') return 'unchanged';
    // Asked before the consents are erased: they are who must learn of the deletion.
    const consented = await consentedServices(trx, citizenId);
    await eraseCitizen(trx, erasers, citizenId);
    await trx
      .updateTable('citizens')
      .set({ status: 'deleted', deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
      .where('id', '=', citizenId)
      .execute();
    await recordEvent(trx, { type: 'account.purged', citizenId, audience: consented });
    return 'done';
  }

  async function disableIn(trx: Db, citizenId: string): Promise<LifecycleResult> {
    const row = await lockStatus(trx, citizenId);
    if (!row || row.status === 'deleted') return 'not_found';
    if (row.status === 'disabled') return 'unchanged';
    await trx
      .updateTable('citizens')
      .set({ status: 'disabled', updated_at: sql<Date>`now()` })
      .where('id', '=', citizenId)
      .execute();
    await provider.endAccountSessions(trx, citizenId);
    await recordEvent(trx, {
      type: 'account.disabled',
      citizenId,
      audience: await consentedServices(trx, citizenId),
    });
    return 'done';
  }

  return {
    async disable(citizenId: string): Promise<LifecycleResult> {
      return db.transaction().execute((trx) => disableIn(trx, citizenId));
    },

    async enable(citizenId: string): Promise<LifecycleResult> {
      return db.transaction().execute(async (trx) => {
        const row = await lockStatus(trx, citizenId);
        if (!row || row.status === 'deleted') return 'not_found';
        if (row.status === 'active') return 'unchanged';
        await trx
          .updateTable('citizens')
          .set({ status: 'active', updated_at: sql<Date>`now()` })
          .where('id', '=', citizenId)
          .execute();
        await recordEvent(trx, {
          type: 'account.enabled',
          citizenId,
          audience: await consentedServices(trx, citizenId),
        });
        return 'done';
      });
    },

    /**
     * Purges the citizen's personal data: every module's eraser runs (identifiers, profile,
     * credentials, sessions, live consents, codes, claim values still held in the event queues, ...).
     * What stays: the row with its id (status `deleted`), and what a module retains by law (the
     * consent records, the evidence LGPD asks the city to keep).
     */
    async purge(citizenId: string): Promise<LifecycleResult> {
      return db.transaction().execute((trx) => purgeIn(trx, citizenId));
    },

    /** The same purge in the caller's transaction (an unconfirmed registration replaced by its owner's). */
    purgeIn,

    /** The same disabling in the caller's transaction (an account that squatted a CPF, held). */
    disableIn,
  };
}

export type AccountLifecycle = ReturnType<typeof createAccountLifecycle>;
