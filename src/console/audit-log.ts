import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';

/**
 * The record of every operator action (decision 23): who (`actor`: `operator:<id>` from the
 * console, `cli`, `api` for the ADMIN_TOKEN API), what (`kind`), on which account or service, why.
 * Written in the action's own transaction; append-only in the database (migration 0070). It holds
 * no CPF, e-mail or phone as typed in a search: only the account found.
 */
export type AuditEntry = {
  actor: string;
  kind: string;
  operatorId?: string | null;
  citizenId?: string | null;
  clientId?: string | null;
  reason?: string | null;
  detail?: Record<string, unknown>;
};

export type AuditRecord = Required<Omit<AuditEntry, 'detail'>> & { id: string; at: Date; detail: Record<string, unknown> };

export type AuditFilter = {
  citizenId?: string;
  operatorId?: string;
  clientId?: string;
  kind?: string;
  from?: Date;
  to?: Date;
  /** Rows with an id below this one (the next page). */
  before?: string;
  limit?: number;
};

export const operatorActor = (citizenId: string) => `operator:${citizenId}`;

export async function recordAudit(trx: Db, entry: AuditEntry): Promise<void> {
  const operatorId = entry.operatorId ?? (entry.actor.startsWith('operator:') ? entry.actor.slice('operator:'.length) : null);
  await trx
    .insertInto('audit_log')
    .values({
      actor: entry.actor,
      operator_id: operatorId,
      kind: entry.kind,
      citizen_id: entry.citizenId ?? null,
      client_id: entry.clientId ?? null,
      reason: entry.reason ?? null,
      detail: JSON.stringify(entry.detail ?? {}),
    })
    .execute();
}

export async function listAudit(db: Db, filter: AuditFilter): Promise<AuditRecord[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (filter.citizenId) q = q.where('citizen_id', '=', filter.citizenId);
  if (filter.operatorId) q = q.where('operator_id', '=', filter.operatorId);
  if (filter.clientId) q = q.where('client_id', '=', filter.clientId);
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  if (filter.from) q = q.where('at', '>=', filter.from);
  if (filter.to) q = q.where('at', '<', filter.to);
  if (filter.before) q = q.where('id', '<', filter.before);
  const rows = await q.orderBy('id', 'desc').limit(filter.limit ?? 100).execute();
  return rows.map((r) => ({
    id: String(r.id),
    at: new Date(r.at),
    actor: r.actor,
    operatorId: r.operator_id,
    kind: r.kind,
    citizenId: r.citizen_id,
    clientId: r.client_id,
    reason: r.reason,
    detail: r.detail,
  }));
}

/** Removes entries older than the retention (AUDIT_RETENTION_DAYS), the one delete the table allows. */
export async function pruneAudit(db: Db, retentionDays: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ before: string }>`select set_config('cidadela.audit_prune_before', (now() - make_interval(days => ${retentionDays}))::text, true) as before`.execute(trx);
    const deleted = await trx.deleteFrom('audit_log').where('at', '<', sql<Date>`${rows[0]!.before}::timestamptz`).executeTakeFirst();
    return Number(deleted.numDeletedRows);
  });
}

/**
 * The audit entries about a deleted account stay: they are the city's record of what its operators
 * did (LGPD art. 37), and hold the account's opaque id only, not its data.
 */
export const auditEraser: Eraser = {
  name: 'console/audit-log',
  erases: {},
  retains: {
    audit_log:
      "the record of operators' actions on the account (LGPD art. 37, art. 46), append-only by trigger; it names the account by its opaque id only and is pruned after AUDIT_RETENTION_DAYS",
  },
  async erase() {},
};
