import type { Eraser } from '../platform/erasure.ts';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { recordEvent } from '../events/outbox.ts';
import { randomId } from '../security/secrets.ts';

/**
 * How well the city knows a citizen: bronze (self-declared, an e-mail or phone proven), prata (data
 * confirmed by a trusted source: an attendant, later the federal login), ouro (an ICP-Brasil
 * certificate). Kept per account with the history of every change and why; per field, which values
 * a trusted source confirmed (provenance), and the companies an e-CNPJ links to its holder.
 */
export const LEVELS = ['bronze', 'prata', 'ouro'] as const;
export type Level = (typeof LEVELS)[number];

export const levelRank = (level: Level) => LEVELS.indexOf(level);
export const isLevel = (value: unknown): value is Level => typeof value === 'string' && (LEVELS as readonly string[]).includes(value);

/** Fields a certificate confirms: what DOC-ICP-04 puts in it and Cidadela keeps. */
export const CERTIFICATE_FIELDS = ['name', 'cpf', 'birthdate'] as const;

export type FieldEvidence = { issuer: string; serial: string; level?: string; kind?: string };
export type FieldVerification = { field: string; trustFramework: string; evidence: FieldEvidence; verifiedAt: Date };
export type Company = { cnpj: string; name: string; linkedAt: Date };
export type LevelChange = { from: Level; to: Level; reason: string; detail: Record<string, unknown>; changedAt: Date };

/** A `field_verifications` row (from the driver, or from `json_agg` in a query that reads it with others). */
export function toFieldVerification(r: { field: string; trust_framework: string; evidence: unknown; verified_at: Date | string }): FieldVerification {
  return { field: r.field, trustFramework: r.trust_framework, evidence: r.evidence as FieldEvidence, verifiedAt: new Date(r.verified_at) };
}

export function createTrustLevels(db: Db) {
  return {
    async levelOf(citizenId: string, trx: Db = db): Promise<Level> {
      const row = await trx.selectFrom('citizens').select('trust_level').where('id', '=', citizenId).executeTakeFirst();
      return row?.trust_level ?? 'bronze';
    },

    /** Sets the level, writing the history row; returns the previous level (unchanged: nothing written). */
    async setLevel(trx: Db, citizenId: string, to: Level, reason: string, detail: Record<string, unknown> = {}): Promise<Level> {
      const row = await sql<{ trust_level: Level }>`select trust_level from citizens where id = ${citizenId} for update`.execute(trx);
      const from = row.rows[0]?.trust_level ?? 'bronze';
      if (from === to) return from;
      await trx.updateTable('citizens').set({ trust_level: to, updated_at: sql<Date>`now()` }).where('id', '=', citizenId).execute();
      await trx
        .insertInto('trust_level_changes')
        .values({ id: randomId(), citizen_id: citizenId, from_level: from, to_level: to, reason, detail: JSON.stringify(detail) })
        .execute();
      await recordEvent(trx, { type: 'assurance.changed', citizenId, from, to, reason });
      return from;
    },

    async history(citizenId: string): Promise<LevelChange[]> {
      const rows = await db.selectFrom('trust_level_changes').selectAll().where('citizen_id', '=', citizenId).orderBy('changed_at').execute();
      return rows.map((r) => ({ from: r.from_level as Level, to: r.to_level as Level, reason: r.reason, detail: r.detail, changedAt: new Date(r.changed_at) }));
    },

    async verifyFields(trx: Db, citizenId: string, fields: readonly string[], trustFramework: string, evidence: FieldEvidence): Promise<void> {
      for (const field of fields) {
        await trx
          .insertInto('field_verifications')
          .values({ citizen_id: citizenId, field, trust_framework: trustFramework, evidence: JSON.stringify(evidence) })
          .onConflict((oc) =>
            oc.columns(['citizen_id', 'field']).doUpdateSet({ trust_framework: trustFramework, evidence: JSON.stringify(evidence), verified_at: sql<Date>`now()` }),
          )
          .execute();
      }
    },

    /** Clears the verification of fields the citizen changed; returns the fields that had one. */
    async clearFields(trx: Db, citizenId: string, fields: readonly string[]): Promise<string[]> {
      if (fields.length === 0) return [];
      const rows = await trx
        .deleteFrom('field_verifications')
        .where('citizen_id', '=', citizenId)
        .where('field', 'in', [...fields])
        .returning('field')
        .execute();
      return rows.map((r) => r.field);
    },

    async verifiedFields(citizenId: string, trx: Db = db): Promise<FieldVerification[]> {
      const rows = await trx.selectFrom('field_verifications').selectAll().where('citizen_id', '=', citizenId).execute();
      return rows.map(toFieldVerification);
    },

    /**
     * Links (or renames) a company; a change of the account's list is a profile change services whose
     * contract has `companies` receive, as any other field's.
     */
    async linkCompany(trx: Db, citizenId: string, company: { cnpj: string; name: string }, evidence: FieldEvidence): Promise<void> {
      const before = await trx
        .selectFrom('citizen_companies')
        .select('name')
        .where('citizen_id', '=', citizenId)
        .where('cnpj', '=', company.cnpj)
        .executeTakeFirst();
      await trx
        .insertInto('citizen_companies')
        .values({ citizen_id: citizenId, cnpj: company.cnpj, name: company.name, evidence: JSON.stringify(evidence) })
        .onConflict((oc) => oc.columns(['citizen_id', 'cnpj']).doUpdateSet({ name: company.name, evidence: JSON.stringify(evidence) }))
        .execute();
      if (before?.name === company.name) return;
      const list = await trx
        .selectFrom('citizen_companies')
        .select(['cnpj', 'name'])
        .where('citizen_id', '=', citizenId)
        .orderBy('linked_at')
        .orderBy('cnpj')
        .execute();
      await recordEvent(trx, { type: 'profile.changed', citizenId, values: { companies: list }, originClientId: null });
    },

    async companies(citizenId: string, trx: Db = db): Promise<Company[]> {
      const rows = await trx.selectFrom('citizen_companies').selectAll().where('citizen_id', '=', citizenId).orderBy('linked_at').execute();
      return rows.map((r) => ({ cnpj: r.cnpj, name: r.name, linkedAt: new Date(r.linked_at) }));
    },
  };
}

export type TrustLevels = ReturnType<typeof createTrustLevels>;

/**
 * OpenID Connect for Identity Assurance 1.0: the released claims a trusted source confirmed, with
 * how (trust framework, time, evidence). Only fields the service receives anyway; undefined when
 * none of them is verified.
 */
export function verifiedClaims(
  claims: Record<string, unknown>,
  shared: readonly string[],
  verifications: FieldVerification[],
): Record<string, unknown> | undefined {
  const byFramework = new Map<string, FieldVerification[]>();
  for (const v of verifications) {
    if (!shared.includes(v.field) || claims[v.field] === undefined) continue;
    byFramework.set(v.trustFramework, [...(byFramework.get(v.trustFramework) ?? []), v]);
  }
  const blocks = [...byFramework.entries()].map(([framework, list]) => {
    const latest = list.reduce((a, b) => (a.verifiedAt > b.verifiedAt ? a : b));
    return {
      verification: {
        trust_framework: framework,
        time: latest.verifiedAt.toISOString(),
        evidence: [
          framework === 'icp_brasil'
            ? {
                type: 'electronic_record',
                record: {
                  type: 'icp_brasil_certificate',
                  source: { name: latest.evidence.issuer },
                },
                ...(latest.evidence.serial ? { serial_number: latest.evidence.serial } : {}),
                time: latest.verifiedAt.toISOString(),
              }
            : // A document shown to an attendant (decision 23): its kind, never its number.
              {
                type: 'document',
                method: 'pipp',
                document_details: { type: latest.evidence.kind ?? 'idcard' },
                time: latest.verifiedAt.toISOString(),
              },
        ],
      },
      claims: Object.fromEntries(list.map((v) => [v.field, claims[v.field]])),
    };
  });
  if (blocks.length === 0) return undefined;
  return blocks.length === 1 ? blocks[0] : (blocks as unknown as Record<string, unknown>);
}

/**
 * A citizen changed fields (on /conta/dados, or a service by write-back): a value a trusted source
 * confirmed and that is now typed is no longer confirmed, and an account at ouro, which rested on
 * those values, goes back to bronze (with its history row and event). Inside the change's transaction.
 */
export async function fieldsEdited(trx: Db, citizenId: string, changed: readonly string[]): Promise<void> {
  const levels = createTrustLevels(trx);
  const cleared = await levels.clearFields(trx, citizenId, changed);
  if (cleared.length === 0) return;
  if ((await levels.levelOf(citizenId, trx)) !== 'bronze') {
    await levels.setLevel(trx, citizenId, 'bronze', 'verified_field_edited', { fields: cleared });
  }
}

/**
 * A deleted account's level history, per-field provenance (certificate issuer and serial) and
 * linked companies go with it.
 */
export const trustLevelsEraser: Eraser = {
  name: 'identity/trust-levels',
  erases: { trust_level_changes: 'deleted', field_verifications: 'deleted', citizen_companies: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('trust_level_changes').where('citizen_id', '=', citizenId).execute();
    await trx.deleteFrom('field_verifications').where('citizen_id', '=', citizenId).execute();
    await trx.deleteFrom('citizen_companies').where('citizen_id', '=', citizenId).execute();
  },
};
