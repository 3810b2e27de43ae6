import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import type { RecoveryAttemptsTable } from '../../db/schema.ts';
import type { Eraser } from '../../platform/erasure.ts';
import { randomId } from '../../security/secrets.ts';

/** An attempt lives an hour: enough to fetch a mail, not enough to leave a door open. */
export const ATTEMPT_TTL_SECONDS = 3600;
/** Wrong codes an attempt for nobody answers before "too many": the same as a real code's. */
export const STAND_IN_TRIES = 5;

export type AttemptState = RecoveryAttemptsTable['state'];

export type Attempt = {
  id: string;
  citizenId: string | null;
  interactionUid: string | null;
  state: AttemptState;
  strategy: string | null;
  codeFlowId: string | null;
  fakeTries: number;
  data: Record<string, unknown>;
  createdAt: Date;
};

/**
 * One row per recovery attempt (migration 0020), whether or not what was typed is someone's: the
 * attempt's state between pages and, once done, its record for the citizen's security page.
 */
export function createRecoveryStore(db: Db) {
  return {
    async start(input: {
      citizenId: string | null;
      interactionUid: string | null;
      data: Record<string, unknown>;
      ip: string;
      userAgent: string | null;
    }) {
      const id = randomId(24);
      await db
        .insertInto('recovery_attempts')
        .values({
          id,
          state: 'started',
          citizen_id: input.citizenId,
          interaction_uid: input.interactionUid,
          data: JSON.stringify(input.data),
          ip: input.ip,
          user_agent: input.userAgent?.slice(0, 400) ?? null,
          expires_at: new Date(Date.now() + ATTEMPT_TTL_SECONDS * 1000),
        })
        .execute();
      return id;
    },

    /** The attempt, if it exists and has not expired. */
    async find(id: string, trx: Db = db): Promise<Attempt | undefined> {
      const row = await trx
        .selectFrom('recovery_attempts')
        .selectAll()
        .where('id', '=', id)
        .where('expires_at', '>', sql<Date>`now()`)
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        id: row.id,
        citizenId: row.citizen_id,
        interactionUid: row.interaction_uid,
        state: row.state,
        strategy: row.strategy,
        codeFlowId: row.code_flow_id,
        fakeTries: row.fake_tries,
        data: row.data ?? {},
        createdAt: row.created_at,
      };
    },

    async update(
      id: string,
      change: {
        state?: AttemptState;
        strategy?: string;
        codeFlowId?: string | null;
        fakeTries?: number;
        data?: Record<string, unknown>;
        notMeDigest?: string;
      },
      trx: Db = db,
    ): Promise<void> {
      await trx
        .updateTable('recovery_attempts')
        .set({
          ...(change.state ? { state: change.state } : {}),
          ...(change.strategy ? { strategy: change.strategy } : {}),
          ...(change.codeFlowId !== undefined ? { code_flow_id: change.codeFlowId } : {}),
          ...(change.fakeTries !== undefined ? { fake_tries: change.fakeTries } : {}),
          ...(change.data ? { data: JSON.stringify(change.data) } : {}),
          ...(change.notMeDigest ? { not_me_digest: change.notMeDigest } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', id)
        .execute();
    },

    /**
     * The reset a "this was not me" token points at, locked, if it is one of the last 30 days and
     * not used yet.
     */
    async byNotMe(digest: string, trx: Db) {
      return trx
        .selectFrom('recovery_attempts')
        .select(['id', 'citizen_id'])
        .where('not_me_digest', '=', digest)
        .where('not_me_at', 'is', null)
        .where('created_at', '>', sql<Date>`now() - interval '30 days'`)
        .forUpdate()
        .executeTakeFirst();
    },

    async markNotMe(id: string, trx: Db): Promise<void> {
      await trx
        .updateTable('recovery_attempts')
        .set({ not_me_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .execute();
    },

    /** When the account was last reset through `strategy` (a method id), if ever. */
    async lastReset(citizenId: string, strategy: string): Promise<Date | undefined> {
      const row = await db
        .selectFrom('recovery_attempts')
        .select('updated_at')
        .where('citizen_id', '=', citizenId)
        .where('state', '=', 'reset')
        .where('strategy', '=', strategy)
        .orderBy('updated_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? new Date(row.updated_at) : undefined;
    },

    /** The account's recent attempts, newest first (the security page's list). */
    async recent(citizenId: string, limit = 20) {
      return db
        .selectFrom('recovery_attempts')
        .select(['created_at', 'state', 'strategy', 'ip', 'user_agent', 'not_me_at'])
        .where('citizen_id', '=', citizenId)
        .orderBy('created_at', 'desc')
        .limit(limit)
        .execute();
    },
  };
}

export type RecoveryStore = ReturnType<typeof createRecoveryStore>;

/** Attempts name the account, the address and browser they came from: they go with it. */
export const recoveryEraser: Eraser = {
  name: 'flows/recovery',
  erases: { recovery_attempts: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('recovery_attempts').where('citizen_id', '=', citizenId).execute();
  },
};
