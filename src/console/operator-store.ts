import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';
import { recordAudit } from './audit-log.ts';

/** What an operator may do in the console (decision 23). A citizen may hold several roles. */
export const ROLES = ['admin', 'attendant', 'auditor'] as const;
export type Role = (typeof ROLES)[number];
export const isRole = (value: unknown): value is Role => typeof value === 'string' && (ROLES as readonly string[]).includes(value);

export type OperatorRow = { citizenId: string; role: Role; grantedAt: Date; grantedBy: string; name: string; status: string };

/** Grants and revocations are operator actions themselves: each writes its audit row in the same transaction. */
export function createOperatorStore(db: Db) {
  return {
    async rolesOf(citizenId: string, trx: Db = db): Promise<Role[]> {
      const rows = await trx.selectFrom('operators').select('role').where('citizen_id', '=', citizenId).execute();
      return rows.map((r) => r.role).sort((a, b) => ROLES.indexOf(a) - ROLES.indexOf(b));
    },

    /** Returns false when the citizen already had the role (nothing written). */
    async grant(citizenId: string, role: Role, actor: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const added = await trx
          .insertInto('operators')
          .values({ citizen_id: citizenId, role, granted_by: actor })
          .onConflict((oc) => oc.columns(['citizen_id', 'role']).doNothing())
          .returning('role')
          .executeTakeFirst();
        if (!added) return false;
        await recordAudit(trx, { actor, kind: 'operator.granted', citizenId, detail: { role } });
        return true;
      });
    },

    /** Returns false when the citizen did not have the role. */
    async revoke(citizenId: string, role: Role, actor: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        const removed = await trx
          .deleteFrom('operators')
          .where('citizen_id', '=', citizenId)
          .where('role', '=', role)
          .returning('role')
          .executeTakeFirst();
        if (!removed) return false;
        await recordAudit(trx, { actor, kind: 'operator.revoked', citizenId, detail: { role } });
        return true;
      });
    },

    async list(): Promise<OperatorRow[]> {
      const rows = await db
        .selectFrom('operators')
        .innerJoin('citizens', 'citizens.id', 'operators.citizen_id')
        .select(['operators.citizen_id', 'operators.role', 'operators.granted_at', 'operators.granted_by', 'citizens.name', 'citizens.status'])
        .orderBy('citizens.name')
        .orderBy('operators.role')
        .execute();
      return rows.map((r) => ({
        citizenId: r.citizen_id,
        role: r.role,
        grantedAt: new Date(r.granted_at),
        grantedBy: r.granted_by,
        name: r.name,
        status: r.status,
      }));
    },
  };
}

export type OperatorStore = ReturnType<typeof createOperatorStore>;

/** A deleted account is no operator any more. */
export const operatorsEraser: Eraser = {
  name: 'console/operators',
  erases: { operators: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('operators').where('citizen_id', '=', citizenId).execute();
  },
};
