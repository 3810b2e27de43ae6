import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { SecurityEventsTable } from '../db/schema.ts';
import type { Eraser } from '../platform/erasure.ts';
import { describeBrowser } from '../platform/user-agent.ts';

export type SecurityEventKind = SecurityEventsTable['kind'];

/**
 * What happened, in words that name no secret: which method, which service, from where, and a
 * summary of the browser. `detail` holds small labels (a strategy, a channel kind, a masked
 * address), never a CPF, a code, a token or a password; `record` drops anything else.
 */
export type SecurityEventInput = {
  citizenId: string;
  kind: SecurityEventKind;
  /** `success` unless said: `failure`, `throttled`, `proven`, `reset`, `not_me`, `disabled`, ... */
  result?: string;
  /** A sign-in method id (`password`, `email-code`, `certificate`) or a recovery strategy's. */
  method?: string | null;
  /** The service the sign-in was for (its client id). */
  clientId?: string | null;
  ip?: string | null;
  /** The whole User-Agent header: only its summary is kept. */
  userAgent?: string | null;
  detail?: SecurityEventDetail;
};

/** The labels a row may carry beside its columns. */
export type SecurityEventDetail = {
  /** How a password changed: on the account pages, or by recovery. */
  via?: 'account' | 'recovery';
  /** The kind of recovery channel (`email`, `phone`, `alternate_email`). */
  channel?: string;
  /** An address as the citizen sees it masked (`m***@gmail.com`). */
  masked?: string;
  /** How many sessions an action ended. */
  count?: number;
  /** Who ended a session: the citizen on the account pages, or a recovery. */
  by?: 'citizen' | 'recovery' | 'not_me';
};

const DETAIL_KEYS = ['via', 'channel', 'masked', 'count', 'by'] as const;

export type SecurityEvent = {
  id: string;
  kind: SecurityEventKind;
  result: string;
  method: string | null;
  clientId: string | null;
  serviceName: string | null;
  ip: string | null;
  browser: string | null;
  system: string | null;
  detail: SecurityEventDetail;
  at: Date;
};

const clip = (value: string | null | undefined, max: number) => (value ? value.slice(0, max) : null);

/**
 * The citizen's security record: one row per sign-in, recovery step, password change, session
 * ended, channel changed. The table refuses updates and deletes (migration 0055) except the erasure
 * of a deleted account. The account pages show it (`recentFor`); the operators' audit log and the
 * support desk read the same rows.
 */
export function createSecurityEvents(db: Db) {
  return {
    /** Writes one fact, in the caller's transaction when given (it commits with the change). */
    async record(input: SecurityEventInput, trx: Db = db): Promise<void> {
      const { browser, system } = describeBrowser(input.userAgent);
      const detail: Record<string, unknown> = {};
      for (const key of DETAIL_KEYS) {
        const value = input.detail?.[key];
        if (typeof value === 'number') detail[key] = value;
        else if (typeof value === 'string') detail[key] = value.slice(0, 120);
      }
      await trx
        .insertInto('security_events')
        .values({
          citizen_id: input.citizenId,
          kind: input.kind,
          result: clip(input.result, 40) ?? 'success',
          method: clip(input.method, 40),
          client_id: clip(input.clientId, 200),
          ip: clip(input.ip, 64),
          browser: input.userAgent == null ? null : browser,
          system: input.userAgent == null ? null : system,
          detail: JSON.stringify(detail),
        })
        .execute();
    },

    /** The account's latest events, newest first, with each service's name; `kinds` narrows them. */
    async recentFor(
      citizenId: string,
      options: { kinds?: SecurityEventKind[]; limit?: number } = {},
    ): Promise<SecurityEvent[]> {
      let query = db
        .selectFrom('security_events as e')
        .leftJoin('services as s', 's.client_id', 'e.client_id')
        .select([
          'e.id',
          'e.kind',
          'e.result',
          'e.method',
          'e.client_id',
          's.name as service_name',
          'e.ip',
          'e.browser',
          'e.system',
          'e.detail',
          'e.created_at',
        ])
        .where('e.citizen_id', '=', citizenId);
      if (options.kinds?.length) query = query.where('e.kind', 'in', options.kinds);
      const rows = await query
        .orderBy('e.id', 'desc')
        .limit(Math.min(options.limit ?? 30, 200))
        .execute();
      return rows.map((r) => ({
        id: String(r.id),
        kind: r.kind,
        result: r.result,
        method: r.method,
        clientId: r.client_id,
        serviceName: r.service_name,
        ip: r.ip,
        browser: r.browser,
        system: r.system,
        detail: (r.detail ?? {}) as SecurityEventDetail,
        at: r.created_at,
      }));
    },
  };
}

export type SecurityEvents = ReturnType<typeof createSecurityEvents>;

/**
 * A deleted account's record goes with it: the table lets a row go only inside a transaction that
 * has named its account as the one being erased (migration 0055).
 */
export const securityEventsEraser: Eraser = {
  name: 'identity/security-events',
  erases: { security_events: 'deleted' },
  async erase(trx, citizenId) {
    await sql`select set_config('cidadela.erasing_citizen', ${citizenId}, true)`.execute(trx);
    await trx.deleteFrom('security_events').where('citizen_id', '=', citizenId).execute();
    await sql`select set_config('cidadela.erasing_citizen', '', true)`.execute(trx);
  },
};
