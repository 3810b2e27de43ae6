import { sql } from 'kysely';
import type { Eraser } from '../platform/erasure.ts';
import { CLAIMS_CHANGE } from './set-format.ts';

/** Event types whose data carries the citizen's values (others carry field names and ids only). */
const CARRY_VALUES = ['profile.changed', 'email.verified', 'phone.verified'];

/**
 * Claim values waiting in the queues are personal data too: undelivered claims changes are dropped
 * (the purge event supersedes them), delivered ones lose their payload (no replay of them), and the
 * outbox rows that carried values are emptied. The rows stay: their ids order what each service
 * received, and the account's other events (consent, disable, purge) are not personal data.
 */
export const eventsEraser: Eraser = {
  name: 'events',
  erases: { events: 'blanked', event_deliveries: 'blanked' },
  async erase(trx, citizenId) {
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
      .where('type', 'in', CARRY_VALUES)
      .execute();
  },
};
