import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { consentedServices, recordEvent } from '../events/outbox.ts';
import { CLAIMS_CHANGE } from '../events/set-format.ts';

export type LifecycleResult = 'done' | 'unchanged' | 'not_found';

const ACCOUNT_MODELS = [
  'Session',
  'Grant',
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'Interaction',
];

/** Ends every session, grant and token the provider holds for the account. */
async function endSessions(trx: Db, citizenId: string): Promise<void> {
  await trx
    .deleteFrom('oidc_payloads')
    .where('model', 'in', ACCOUNT_MODELS)
    .where(sql<string>`payload->>'accountId'`, '=', citizenId)
    .execute();
}

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
export function createAccountLifecycle(db: Db) {
  return {
    async disable(citizenId: string): Promise<LifecycleResult> {
      return db.transaction().execute(async (trx) => {
        const row = await lockStatus(trx, citizenId);
        if (!row || row.status === 'deleted') return 'not_found';
        if (row.status === 'disabled') return 'unchanged';
        await trx
          .updateTable('citizens')
          .set({ status: 'disabled', updated_at: sql<Date>`now()` })
          .where('id', '=', citizenId)
          .execute();
        await endSessions(trx, citizenId);
        await recordEvent(trx, {
          type: 'account.disabled',
          citizenId,
          audience: await consentedServices(trx, citizenId),
        });
        return 'done';
      });
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
     * Purges the citizen's personal data: identifiers, profile, credentials, sessions, live consents,
     * and the claim values still held in the event queues. What stays: the row with its id (status
     * `deleted`), and the consent records, which are the evidence LGPD asks the city to keep.
     */
    async purge(citizenId: string): Promise<LifecycleResult> {
      return db.transaction().execute(async (trx) => {
        const row = await lockStatus(trx, citizenId);
        if (!row) return 'not_found';
        if (row.status === 'deleted') return 'unchanged';
        const consented = await consentedServices(trx, citizenId);
        // Claim values waiting in the queues are personal data too: undelivered ones are dropped
        // (the purge event supersedes them), delivered ones lose their payload (no replay of them).
        await trx
          .deleteFrom('event_deliveries')
          .where('citizen_id', '=', citizenId)
          .where('event_type', '=', CLAIMS_CHANGE)
          .where('status', '=', 'pending')
          .execute();
        await trx
          .updateTable('event_deliveries')
          .set({ payload: null })
          .where('citizen_id', '=', citizenId)
          .where('event_type', '=', CLAIMS_CHANGE)
          .execute();
        await trx
          .updateTable('events')
          .set({ data: '{}', fanned_out_at: sql<Date>`coalesce(fanned_out_at, now())` })
          .where('citizen_id', '=', citizenId)
          .where('type', 'in', ['profile.changed', 'email.verified', 'phone.verified'])
          .execute();
        await trx.deleteFrom('consent_current').where('citizen_id', '=', citizenId).execute();
        await trx.deleteFrom('flows').where('citizen_id', '=', citizenId).execute();
        // The account's own count and its pairs with addresses (login-throttle.ts).
        await trx.deleteFrom('login_throttle').where(sql<boolean>`key = ${`citizen:${citizenId}`} or starts_with(key, ${`citizen:${citizenId}@`})`).execute();
        await endSessions(trx, citizenId);
        await trx
          .updateTable('citizens')
          .set({
            status: 'deleted',
            cpf: null,
            email: `${citizenId}@deleted.invalid`,
            email_verified: false,
            name: '',
            social_name: null,
            birthdate: null,
            phone_number: null,
            phone_number_verified: false,
            password_hash: null,
            locale: null,
            profile: '{}',
            deleted_at: sql<Date>`now()`,
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', citizenId)
          .execute();
        await recordEvent(trx, { type: 'account.purged', citizenId, audience: consented });
        return 'done';
      });
    },
  };
}

export type AccountLifecycle = ReturnType<typeof createAccountLifecycle>;
