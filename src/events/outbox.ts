import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { FieldValue } from '../identity/field-catalog.ts';

/**
 * Facts about a citizen that services must learn. Each is written by `recordEvent` inside the
 * transaction of the change itself: a change that rolls back leaves no event, and no change
 * commits without its event. The relay (relay.ts) turns them into deliveries.
 */
export type OutboxEvent =
  /** Catalog fields changed; `values` holds the new value of each (null: cleared). */
  | {
      type: 'profile.changed';
      citizenId: string;
      values: Record<string, FieldValue | null>;
      originClientId?: string | null;
    }
  | { type: 'email.verified'; citizenId: string; email: string }
  | { type: 'phone.verified'; citizenId: string; phone: string }
  | {
      type: 'consent.granted';
      citizenId: string;
      clientId: string;
      fieldsShared: string[];
      termsVersion: number | null;
    }
  | { type: 'consent.revoked'; citizenId: string; clientId: string }
  /** The account's trust level (bronze, prata, ouro) changed, and why. */
  | { type: 'assurance.changed'; citizenId: string; from: string; to: string; reason: string }
  /**
   * Account events carry their `audience`: the services consented at the time. A purge ends the
   * consents themselves, and a relay running late must not lose what came before it.
   */
  | {
      type: 'account.disabled' | 'account.enabled' | 'account.purged';
      citizenId: string;
      audience: string[];
    }
  /**
   * A credential changed (a password reset by recovery, an account locked by "this was not me", a
   * second factor added or removed). `credentialType` is CAEP's: `app` for an authenticator app's
   * codes, `fido2-platform` / `fido2-roaming` for a passkey.
   */
  | {
      type: 'credential.changed';
      citizenId: string;
      audience: string[];
      credentialType: 'password' | 'app' | 'fido2-platform' | 'fido2-roaming';
      changeType: 'create' | 'revoke' | 'update' | 'delete';
      reason: 'recovery' | 'not_me' | 'change';
    };

export type EventType = OutboxEvent['type'];

/**
 * NOTIFY channels. `RELAY_CHANNEL`: something for the relay (an event committed, a stream to send
 * again); `POLL_CHANNEL`: deliveries are waiting for services that poll. Sent in the transaction
 * that makes the work, so PostgreSQL delivers them at its commit and never for a rollback.
 */
export const RELAY_CHANNEL = 'cidadela_relay';
export const POLL_CHANNEL = 'cidadela_poll';

/** Queues a notification on `channel` in the caller's transaction (delivered at commit, folded with duplicates). */
export async function notifyOnCommit(trx: Db, channel: typeof RELAY_CHANNEL | typeof POLL_CHANNEL): Promise<void> {
  await sql`select pg_notify(${channel}, '')`.execute(trx);
}

/**
 * Writes one event in the caller's transaction. The citizen's row is locked first, so two
 * transactions touching the same citizen draw their event ids in commit order: the relay can
 * deliver one citizen's events in id order and it is the order in which they happened.
 */
export async function recordEvent(trx: Db, event: OutboxEvent): Promise<string> {
  await sql`select 1 from citizens where id = ${event.citizenId} for update`.execute(trx);
  const { type, citizenId } = event;
  let data: Record<string, unknown> = {};
  let origin: string | null = null;
  let audience: string[] | null = null;
  switch (event.type) {
    case 'profile.changed':
      data = { values: event.values };
      origin = event.originClientId ?? null;
      break;
    case 'email.verified':
      data = { email: event.email };
      break;
    case 'phone.verified':
      data = { phone: event.phone };
      break;
    case 'consent.granted':
      data = { fieldsShared: event.fieldsShared, termsVersion: event.termsVersion };
      audience = [event.clientId];
      break;
    case 'consent.revoked':
      audience = [event.clientId];
      break;
    case 'assurance.changed':
      data = { from: event.from, to: event.to, reason: event.reason };
      break;
    case 'account.disabled':
    case 'account.enabled':
    case 'account.purged':
      audience = event.audience;
      break;
    case 'credential.changed':
      data = { credentialType: event.credentialType, changeType: event.changeType, reason: event.reason };
      audience = event.audience;
      break;
  }
  const row = await trx
    .insertInto('events')
    .values({ citizen_id: citizenId, type, data: JSON.stringify(data), origin_client_id: origin, audience })
    // The relay's wake-up rides on the insert itself: no extra round trip per event.
    .returning(['id', sql<void>`pg_notify(${RELAY_CHANNEL}, '')`.as('notified')])
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The services (not first-party) the citizen has a live consent with, for an event's audience. */
export async function consentedServices(trx: Db, citizenId: string): Promise<string[]> {
  const rows = await trx
    .selectFrom('consent_current as c')
    .innerJoin('services as s', 's.client_id', 'c.client_id')
    .select('c.client_id')
    .where('c.citizen_id', '=', citizenId)
    .where('s.first_party', '=', false)
    .orderBy('c.client_id')
    .execute();
  return rows.map((r) => r.client_id);
}
