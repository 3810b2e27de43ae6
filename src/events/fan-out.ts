import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { claimValue, type FieldValue, fieldDef } from '../identity/field-catalog.ts';
import { type EventType, notifyOnCommit, POLL_CHANNEL } from './outbox.ts';
import {
  ACCOUNT_DISABLED,
  ACCOUNT_ENABLED,
  CREDENTIAL_CHANGE,
  ACCOUNT_PURGED,
  ASSURANCE_LEVEL_CHANGE,
  CLAIMS_CHANGE,
  CONSENT_GRANTED,
  CONSENT_REVOKED,
  setClaims,
} from './set-format.ts';

// One relay at a time fans out (any constant; the same in every copy). Deliveries then get ids in
// event order, so a service's stream sent in id order is in the order things happened.
const FAN_OUT_LOCK = 7_301_944_301;

type Consent = { clientId: string; shared: Set<string> };

type EventRow = {
  id: string;
  citizen_id: string;
  type: string;
  data: Record<string, unknown>;
  origin_client_id: string | null;
  audience: string[] | null;
  created_at: Date;
};

export type PlannedDelivery = { clientId: string; eventType: string; body: Record<string, unknown> };

function claimNames(keys: Iterable<string>): string[] {
  return [...keys].map((k) => fieldDef(k)?.claim).filter((c): c is string => Boolean(c));
}

/**
 * Which services receive an event, and what each receives. Profile changes go to each service the
 * citizen has a live consent with when the relay fans out (not the one that wrote them) whose
 * contract includes a changed field the citizen shares with it, carrying only those fields: after a
 * revocation nothing more reaches that service. Consent events go to their own service; account
 * events to the services consented when they happened.
 */
export function plan(
  event: Pick<EventRow, 'type' | 'data' | 'origin_client_id' | 'audience'>,
  consents: Consent[],
  contracts: Map<string, Set<string>>,
): PlannedDelivery[] {
  const type = event.type as EventType;
  const out: PlannedDelivery[] = [];
  switch (type) {
    case 'profile.changed': {
      const values = (event.data.values ?? {}) as Record<string, FieldValue | null>;
      for (const c of consents) {
        if (c.clientId === event.origin_client_id) continue;
        const contract = contracts.get(c.clientId);
        const keys = Object.keys(values).filter((k) => contract?.has(k) && c.shared.has(k));
        if (keys.length === 0) continue;
        const claims: Record<string, unknown> = {};
        for (const key of keys) {
          const def = fieldDef(key);
          if (!def) continue;
          const value = values[key];
          claims[def.claim] = value === null || value === undefined ? null : claimValue(def, value);
          // A new address is not verified yet (writeProfile resets the flag with it).
          if (key === 'email') claims.email_verified = false;
          if (key === 'phone_number') claims.phone_number_verified = false;
        }
        out.push({ clientId: c.clientId, eventType: CLAIMS_CHANGE, body: { claims } });
      }
      break;
    }
    case 'email.verified':
      // The email_verified claim changed: CAEP's token-claims-change says exactly that.
      for (const c of consents) {
        if (!contracts.get(c.clientId)?.has('email') || !c.shared.has('email')) continue;
        out.push({
          clientId: c.clientId,
          eventType: CLAIMS_CHANGE,
          body: { claims: { email: event.data.email, email_verified: true } },
        });
      }
      break;
    case 'phone.verified':
      for (const c of consents) {
        if (!contracts.get(c.clientId)?.has('phone_number') || !c.shared.has('phone_number')) continue;
        out.push({
          clientId: c.clientId,
          eventType: CLAIMS_CHANGE,
          body: { claims: { phone_number: event.data.phone, phone_number_verified: true } },
        });
      }
      break;
    case 'consent.granted':
      for (const clientId of event.audience ?? []) {
        out.push({
          clientId,
          eventType: CONSENT_GRANTED,
          body: {
            fields_shared: claimNames((event.data.fieldsShared as string[]) ?? []),
            terms_version: event.data.termsVersion ?? null,
          },
        });
      }
      break;
    case 'consent.revoked':
      for (const clientId of event.audience ?? [])
        out.push({ clientId, eventType: CONSENT_REVOKED, body: {} });
      break;
    case 'assurance.changed': {
      // CAEP assurance-level-change, to every service the citizen consented to: the levels are
      // Cidadela's acr values (bronze, prata, ouro).
      const levels = ['bronze', 'prata', 'ouro'];
      const from = String(event.data.from);
      const to = String(event.data.to);
      for (const c of consents) {
        out.push({
          clientId: c.clientId,
          eventType: ASSURANCE_LEVEL_CHANGE,
          body: {
            namespace: 'urn:cidadela:acr',
            current_level: to,
            previous_level: from,
            change_direction: levels.indexOf(to) > levels.indexOf(from) ? 'increase' : 'decrease',
            initiating_entity: event.data.reason === 'certificate' || event.data.reason === 'verified_field_edited' ? 'user' : 'admin',
            reason_admin: { en: String(event.data.reason) },
          },
        });
      }
      break;
    }
    case 'account.disabled':
    case 'account.enabled':
    case 'account.purged': {
      const eventType = {
        'account.disabled': ACCOUNT_DISABLED,
        'account.enabled': ACCOUNT_ENABLED,
        'account.purged': ACCOUNT_PURGED,
      }[type];
      for (const clientId of event.audience ?? consents.map((c) => c.clientId))
        out.push({ clientId, eventType, body: {} });
      break;
    }
    case 'credential.changed':
      // CAEP credential-change: the service may want to end its own session for the citizen.
      for (const clientId of event.audience ?? [])
        out.push({
          clientId,
          eventType: CREDENTIAL_CHANGE,
          body: { credential_type: event.data.credentialType, change_type: event.data.changeType, reason_admin: { en: String(event.data.reason) } },
        });
      break;
  }
  return out;
}

/**
 * Turns up to `limit` outbox events into deliveries, in one transaction: the deliveries and the
 * event's mark commit together, so an event is fanned out exactly once. Returns how many events
 * were handled (0: nothing to do, or another relay is fanning out right now).
 */
export async function fanOut(
  db: Db,
  issuer: string,
  limit = 200,
): Promise<{ events: number; deliveries: number }> {
  return db.transaction().execute(async (trx) => {
    const got = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${FAN_OUT_LOCK}) as ok`.execute(
      trx,
    );
    if (!got.rows[0]?.ok) return { events: 0, deliveries: 0 };
    const events = (await trx
      .selectFrom('events')
      .select(['id', 'citizen_id', 'type', 'data', 'origin_client_id', 'audience', 'created_at'])
      .where('fanned_out_at', 'is', null)
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute()) as EventRow[];
    if (events.length === 0) return { events: 0, deliveries: 0 };

    const citizenIds = [...new Set(events.map((e) => e.citizen_id))];
    const consentRows = await trx
      .selectFrom('consent_current as c')
      .innerJoin('services as s', 's.client_id', 'c.client_id')
      .select(['c.citizen_id', 'c.client_id', 'c.fields_shared'])
      .where('c.citizen_id', 'in', citizenIds)
      .where('s.first_party', '=', false)
      .orderBy('c.client_id')
      .execute();
    const consents = new Map<string, Consent[]>();
    for (const r of consentRows) {
      const list = consents.get(r.citizen_id) ?? [];
      list.push({ clientId: r.client_id, shared: new Set(r.fields_shared) });
      consents.set(r.citizen_id, list);
    }
    const audienceIds = events.flatMap((e) => e.audience ?? []);
    const clientIds = [...new Set([...consentRows.map((r) => r.client_id), ...audienceIds])];
    const contracts = new Map<string, Set<string>>();
    const existing = new Set<string>();
    if (clientIds.length) {
      // The services that still exist and their contracts, in one statement.
      const rows = await trx
        .selectFrom('services as s')
        .leftJoin('service_fields as f', 'f.client_id', 's.client_id')
        .select(['s.client_id', 'f.field_key'])
        .where('s.client_id', 'in', clientIds)
        .execute();
      for (const r of rows) {
        existing.add(r.client_id);
        const set = contracts.get(r.client_id) ?? new Set<string>();
        if (r.field_key) set.add(r.field_key);
        contracts.set(r.client_id, set);
      }
    }

    const rows: {
      client_id: string;
      citizen_id: string;
      event_id: string;
      jti: string;
      event_type: string;
      payload: string;
    }[] = [];
    for (const event of events) {
      const toe = Math.floor(new Date(event.created_at).getTime() / 1000);
      for (const d of plan(event, consents.get(event.citizen_id) ?? [], contracts)) {
        if (!existing.has(d.clientId)) continue; // the service was removed since
        const claims = setClaims({
          issuer,
          clientId: d.clientId,
          sub: event.citizen_id,
          eventId: event.id,
          eventType: d.eventType,
          toe,
          body: d.body,
        });
        rows.push({
          client_id: d.clientId,
          citizen_id: event.citizen_id,
          event_id: event.id,
          jti: claims.jti,
          event_type: d.eventType,
          payload: JSON.stringify(claims),
        });
      }
    }
    if (rows.length) {
      const receivers = [...new Set(rows.map((r) => r.client_id))];
      await trx
        .insertInto('event_streams')
        .values(receivers.map((client_id) => ({ client_id })))
        .onConflict((oc) => oc.column('client_id').doNothing())
        .execute();
      for (let i = 0; i < rows.length; i += 1000)
        await trx
          .insertInto('event_deliveries')
          .values(rows.slice(i, i + 1000))
          .execute();
      // Long polls waiting for these (poll-routes.ts) answer at the commit. Only when a receiver
      // polls: a notifying commit takes PostgreSQL's notification lock, which serialises commits.
      const polled = await trx
        .selectFrom('event_streams')
        .select('client_id')
        .where('client_id', 'in', receivers)
        .where('method', '=', 'poll')
        .limit(1)
        .execute();
      if (polled.length) await notifyOnCommit(trx, POLL_CHANNEL);
    }
    await trx
      .updateTable('events')
      .set({ fanned_out_at: sql<Date>`now()` })
      .where(
        'id',
        'in',
        events.map((e) => e.id),
      )
      .execute();
    return { events: events.length, deliveries: rows.length };
  });
}
