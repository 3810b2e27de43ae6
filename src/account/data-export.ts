import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';

/**
 * Everything Cidadela keeps about one citizen, table by table (LGPD art. 18 II: access to the data).
 * The tables are the ones every module's eraser names (src/personal-data.ts): a table an eraser
 * erases or retains must appear here, read or left out with the reason, or
 * test/account/data-export.test.ts fails — so a module that starts keeping personal data cannot be
 * forgotten by the export any more than by the deletion. Secrets (password hashes, code digests,
 * tokens) are never exported: only that they exist and when they were used.
 */
export type ExportRow = Record<string, string | number | boolean | null | string[] | Record<string, unknown>>;

export type ExportSection = { table: string; rows: ExportRow[] };

type TableExport = { read(db: Db, citizenId: string): Promise<ExportRow[]> } | { omitted: string };

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

export const TABLE_EXPORTS: Record<string, TableExport> = {
  citizens: {
    async read(db, id) {
      const r = await db.selectFrom('citizens').selectAll().where('id', '=', id).executeTakeFirst();
      if (!r) return [];
      return [
        {
          id: r.id,
          cpf: r.cpf,
          name: r.name,
          social_name: r.social_name,
          birthdate: r.birthdate,
          email: r.email,
          email_verified: r.email_verified,
          phone_number: r.phone_number,
          phone_number_verified: r.phone_number_verified,
          locale: r.locale,
          profile: r.profile,
          trust_level: r.trust_level,
          status: r.status,
          created_at: iso(r.created_at),
          updated_at: iso(r.updated_at),
        },
      ];
    },
  },
  identifiers: {
    async read(db, id) {
      const rows = await db
        .selectFrom('identifiers')
        .selectAll()
        .where('citizen_id', '=', id)
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({
        kind: r.kind,
        value: r.value,
        verified: r.verified,
        verified_at: iso(r.verified_at),
        created_at: iso(r.created_at),
      }));
    },
  },
  credentials: {
    async read(db, id) {
      const rows = await db
        .selectFrom('credentials')
        .select(['type', 'created_at', 'updated_at', 'last_used_at'])
        .where('citizen_id', '=', id)
        .execute();
      return rows.map((r) => ({
        type: r.type,
        created_at: iso(r.created_at),
        updated_at: iso(r.updated_at),
        last_used_at: iso(r.last_used_at),
      }));
    },
  },
  consents: {
    async read(db, id) {
      const rows = await db
        .selectFrom('consents as c')
        .leftJoin('services as s', 's.client_id', 'c.client_id')
        .select([
          'c.client_id',
          's.name',
          'c.action',
          'c.terms_version',
          'c.terms_sha256',
          'c.fields_shared',
          'c.write_back',
          'c.ip',
          'c.user_agent',
          'c.acr',
          'c.amr',
          'c.created_at',
        ])
        .where('c.citizen_id', '=', id)
        .orderBy('c.id')
        .execute();
      return rows.map((r) => ({
        service: r.name ?? r.client_id,
        client_id: r.client_id,
        action: r.action,
        terms_version: r.terms_version,
        terms_sha256: r.terms_sha256,
        fields_shared: r.fields_shared,
        write_back: r.write_back,
        ip: r.ip,
        user_agent: r.user_agent,
        acr: r.acr,
        amr: r.amr,
        created_at: iso(r.created_at),
      }));
    },
  },
  consent_current: {
    async read(db, id) {
      const rows = await db
        .selectFrom('consent_current as c')
        .leftJoin('services as s', 's.client_id', 'c.client_id')
        .select([
          'c.client_id',
          's.name',
          'c.terms_version',
          'c.fields_shared',
          'c.write_back',
          'c.granted_at',
        ])
        .where('c.citizen_id', '=', id)
        .execute();
      return rows.map((r) => ({
        service: r.name ?? r.client_id,
        client_id: r.client_id,
        terms_version: r.terms_version,
        fields_shared: r.fields_shared,
        write_back: r.write_back,
        granted_at: iso(r.granted_at),
      }));
    },
  },
  events: {
    async read(db, id) {
      const rows = await db
        .selectFrom('events')
        .select(['type', 'data', 'origin_client_id', 'created_at'])
        .where('citizen_id', '=', id)
        .orderBy('id')
        .execute();
      return rows.map((r) => ({
        type: r.type,
        data: r.data,
        origin_client_id: r.origin_client_id,
        created_at: iso(r.created_at),
      }));
    },
  },
  event_deliveries: {
    // What each service was sent, when: the data sharing itself (the claims are in `payload`).
    async read(db, id) {
      const rows = await db
        .selectFrom('event_deliveries as d')
        .leftJoin('services as s', 's.client_id', 'd.client_id')
        .select([
          'd.client_id',
          's.name',
          'd.event_type',
          'd.payload',
          'd.status',
          'd.created_at',
          'd.sent_at',
        ])
        .where('d.citizen_id', '=', id)
        .orderBy('d.id')
        .execute();
      return rows.map((r) => ({
        service: r.name ?? r.client_id,
        client_id: r.client_id,
        event_type: r.event_type,
        payload: r.payload,
        status: r.status,
        created_at: iso(r.created_at),
        sent_at: iso(r.sent_at),
      }));
    },
  },
  oidc_payloads: {
    // Sessions and grants: that they exist, for which service, until when; never the tokens.
    async read(db, id) {
      const rows = await db
        .selectFrom('oidc_payloads')
        .select(['model', 'client_id', 'expires_at', sql<number | null>`(payload->>'iat')::bigint`.as('iat')])
        .where('account_id', '=', id)
        .where('model', 'in', ['Session', 'Grant', 'RefreshToken'])
        .execute();
      return rows.map((r) => ({
        model: r.model,
        client_id: r.client_id,
        created_at: r.iat ? new Date(Number(r.iat) * 1000).toISOString() : null,
        expires_at: iso(r.expires_at),
      }));
    },
  },
  messages: {
    // Mail and SMS sent to the citizen's addresses: to whom, what about, when; codes are never kept.
    async read(db, id) {
      const addresses = await db
        .selectFrom('identifiers')
        .select('value')
        .where('citizen_id', '=', id)
        .where('kind', 'in', ['email', 'phone'])
        .execute();
      if (addresses.length === 0) return [];
      const rows = await db
        .selectFrom('messages')
        .select(['channel', 'recipient', 'subject', 'status', 'created_at', 'sent_at'])
        .where(
          'recipient',
          'in',
          addresses.map((a) => a.value),
        )
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({
        channel: r.channel,
        recipient: r.recipient,
        subject: r.subject,
        status: r.status,
        created_at: iso(r.created_at),
        sent_at: iso(r.sent_at),
      }));
    },
  },
  trust_level_changes: {
    async read(db, id) {
      const rows = await db
        .selectFrom('trust_level_changes')
        .selectAll()
        .where('citizen_id', '=', id)
        .orderBy('changed_at')
        .execute();
      return rows.map((r) => ({
        from_level: r.from_level,
        to_level: r.to_level,
        reason: r.reason,
        detail: r.detail,
        changed_at: iso(r.changed_at),
      }));
    },
  },
  field_verifications: {
    async read(db, id) {
      const rows = await db
        .selectFrom('field_verifications')
        .selectAll()
        .where('citizen_id', '=', id)
        .execute();
      return rows.map((r) => ({
        field: r.field,
        trust_framework: r.trust_framework,
        evidence: r.evidence,
        verified_at: iso(r.verified_at),
      }));
    },
  },
  citizen_companies: {
    async read(db, id) {
      const rows = await db
        .selectFrom('citizen_companies')
        .selectAll()
        .where('citizen_id', '=', id)
        .execute();
      return rows.map((r) => ({ cnpj: r.cnpj, name: r.name, linked_at: iso(r.linked_at) }));
    },
  },
  recovery_attempts: {
    async read(db, id) {
      const rows = await db
        .selectFrom('recovery_attempts')
        .select(['state', 'strategy', 'ip', 'user_agent', 'created_at'])
        .where('citizen_id', '=', id)
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({
        state: r.state,
        strategy: r.strategy,
        ip: r.ip,
        user_agent: r.user_agent,
        created_at: iso(r.created_at),
      }));
    },
  },
  flows: {
    // Codes waiting to be typed: their purpose and expiry, never the code (kept only as a digest).
    async read(db, id) {
      const rows = await db
        .selectFrom('flows')
        .select(['kind', 'state', 'created_at', 'expires_at'])
        .where('citizen_id', '=', id)
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({
        kind: r.kind,
        state: r.state,
        created_at: iso(r.created_at),
        expires_at: iso(r.expires_at),
      }));
    },
  },
  verifications: {
    async read(db, id) {
      const rows = await db
        .selectFrom('verifications')
        .select(['method', 'purpose', 'amr', 'verified_at'])
        .where('citizen_id', '=', id)
        .orderBy('verified_at')
        .execute();
      return rows.map((r) => ({
        method: r.method,
        purpose: r.purpose,
        amr: r.amr,
        verified_at: iso(r.verified_at),
      }));
    },
  },
  account_deletions: {
    async read(db, id) {
      const rows = await db
        .selectFrom('account_deletions')
        .selectAll()
        .where('citizen_id', '=', id)
        .execute();
      return rows.map((r) => ({
        requested_at: iso(r.requested_at),
        due_at: iso(r.due_at),
        confirmed_by: r.confirmed_by,
      }));
    },
  },
  security_events: {
    async read(db, id) {
      const rows = await db
        .selectFrom('security_events')
        .select(['kind', 'result', 'method', 'client_id', 'ip', 'browser', 'system', 'created_at'])
        .where('citizen_id', '=', id)
        .orderBy('created_at')
        .execute();
      return rows.map((r) => ({
        kind: r.kind,
        result: r.result,
        method: r.method,
        client_id: r.client_id,
        ip: r.ip,
        browser: r.browser,
        system: r.system,
        created_at: iso(r.created_at),
      }));
    },
  },
  session_activity: {
    async read(db, id) {
      const rows = await db
        .selectFrom('session_activity')
        .select(['ip', 'browser', 'system', 'first_at', 'last_at'])
        .where('citizen_id', '=', id)
        .orderBy('first_at')
        .execute();
      return rows.map((r) => ({
        ip: r.ip,
        browser: r.browser,
        system: r.system,
        first_at: iso(r.first_at),
        last_at: iso(r.last_at),
      }));
    },
  },
  cpf_claims: {
    // A CPF this account held without proving it, taken by an account that proved it (decision 25).
    async read(db, id) {
      const rows = await db
        .selectFrom('cpf_claims')
        .select(['trust_framework', 'claimed_at'])
        .where('citizen_id', '=', id)
        .orderBy('claimed_at')
        .execute();
      return rows.map((r) => ({ trust_framework: r.trust_framework, claimed_at: iso(r.claimed_at) }));
    },
  },
  operators: {
    // The console roles this account holds (decision 23).
    async read(db, id) {
      const rows = await db
        .selectFrom('operators')
        .select(['role', 'granted_at'])
        .where('citizen_id', '=', id)
        .orderBy('granted_at')
        .execute();
      return rows.map((r) => ({ role: r.role, granted_at: iso(r.granted_at) }));
    },
  },
  audit_log: {
    // What operators did to this account (search, verification, disable, ...), with the reason given.
    async read(db, id) {
      const rows = await db
        .selectFrom('audit_log')
        .select(['at', 'kind', 'client_id', 'reason'])
        .where('citizen_id', '=', id)
        .orderBy('at')
        .execute();
      return rows.map((r) => ({ at: iso(r.at), kind: r.kind, client_id: r.client_id, reason: r.reason }));
    },
  },
  usage_seen: {
    // The months in which the citizen used each service (for the usage reports' unique counts).
    async read(db, id) {
      const rows = await db
        .selectFrom('usage_seen')
        .select(['month', 'client_id'])
        .where('citizen_id', '=', id)
        .orderBy('month')
        .execute();
      return rows.map((r) => ({ month: String(r.month), client_id: r.client_id }));
    },
  },
  webauthn_challenges: {
    omitted: 'random challenges of a passkey being added or used, valid for minutes: nothing about the citizen but that the ceremony is open',
  },
  login_throttle: {
    omitted:
      'counters of failed sign-ins keyed by a one-way digest of the account and the address: nothing in them names or describes the citizen, and they go after a quiet day',
  },
  rate_limits: {
    omitted:
      'fixed-window counters keyed by a one-way digest: how many codes were asked in the last hours, nothing else',
  },
};

/** Every table the erasers name, read for the citizen, in the erasers' order. */
export async function exportPersonalData(
  db: Db,
  erasers: readonly Eraser[],
  citizenId: string,
): Promise<{ sections: ExportSection[]; omitted: Record<string, string> }> {
  const sections: ExportSection[] = [];
  const omitted: Record<string, string> = {};
  const tables = [
    ...new Set(erasers.flatMap((e) => [...Object.keys(e.erases), ...Object.keys(e.retains ?? {})])),
  ];
  // The profile first: it is what a person looks for.
  tables.sort((a, b) => (a === 'citizens' ? -1 : b === 'citizens' ? 1 : 0));
  for (const table of tables) {
    const how = TABLE_EXPORTS[table];
    if (!how) throw new Error(`no export for the personal-data table ${table} (src/account/data-export.ts)`);
    if ('omitted' in how) omitted[table] = how.omitted;
    else sections.push({ table, rows: await how.read(db, citizenId) });
  }
  return { sections, omitted };
}
