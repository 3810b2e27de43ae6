import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import type { Eraser } from '../../platform/erasure.ts';

/**
 * Failed password checks slow down per account and per client address. The caller picks the
 * account key (see password-sign-in.ts) so that it throttles the same way whether or not the account exists.
 *
 * Per account: 3 free failures, then 2^(n-3) seconds (capped at 15 minutes); from 20
 * consecutive failures the identifier is locked for an hour (NIST 800-63B asks for at most 100).
 * Per address: 20 free failures, then the same growth; it protects against spraying many accounts.
 *
 * An attempt is counted as a failure *before* the password is checked (and given back if it was
 * right): counting only after the check let a burst of parallel guesses all pass the lock check
 * before the first failure was recorded.
 */
export const ACCOUNT_FREE_FAILURES = 3;
export const ACCOUNT_HARD_STOP = 20;
export const ADDRESS_FREE_FAILURES = 20;

export type ThrottleKeys = { account: string; address: string };

/** An attempt counted in advance: when it locks the keys if the password turns out wrong. */
export type ThrottleCharge = {
  retryAt: Date | null;
  /** The address row as it was before this attempt, to give the attempt back on success. */
  address: { lockSet: boolean; lastFailureAt: Date };
};

function delaySeconds(failures: number, free: number): number {
  if (failures <= free) return 0;
  return Math.min(2 ** (failures - free), 15 * 60);
}

export function createLoginThrottle(db: Db) {
  return {
    /**
     * Counts an attempt as a failure and sets the lock that failure calls for, unless a key is
     * locked already (then nothing is counted). One short transaction with the rows locked, so
     * parallel attempts are counted one after another.
     */
    async charge(keys: ThrottleKeys): Promise<{ blocked: Date } | { charge: ThrottleCharge }> {
      return db.transaction().execute(async (trx) => {
        await trx
          .insertInto('login_throttle')
          .values([
            { key: keys.account, failures: 0, locked_until: null },
            { key: keys.address, failures: 0, locked_until: null },
          ])
          .onConflict((oc) => oc.column('key').doNothing())
          .execute();
        const rows = await trx
          .selectFrom('login_throttle')
          .select([
            'key',
            'failures',
            'locked_until',
            'last_failure_at',
            sql<boolean>`coalesce(locked_until > now(), false)`.as('locked'),
            // A day without failures starts the count again.
            sql<boolean>`last_failure_at < now() - interval '1 day'`.as('stale'),
          ])
          .where('key', 'in', [keys.account, keys.address])
          .orderBy('key')
          .forUpdate()
          .execute();
        const locked = rows.filter((r) => r.locked).map((r) => new Date(r.locked_until!).getTime());
        if (locked.length) return { blocked: new Date(Math.max(...locked)) };
        let retryAt: Date | null = null;
        const address = { lockSet: false, lastFailureAt: new Date() };
        for (const row of rows) {
          const isAccount = row.key === keys.account;
          const failures = row.stale ? 1 : row.failures + 1;
          const seconds =
            isAccount && failures >= ACCOUNT_HARD_STOP
              ? 3600
              : delaySeconds(failures, isAccount ? ACCOUNT_FREE_FAILURES : ADDRESS_FREE_FAILURES);
          const until = seconds > 0 ? new Date(Date.now() + seconds * 1000) : null;
          await trx
            .updateTable('login_throttle')
            .set({ failures, last_failure_at: sql<Date>`now()`, locked_until: until })
            .where('key', '=', row.key)
            .execute();
          if (until && (!retryAt || until > retryAt)) retryAt = until;
          if (!isAccount) {
            address.lockSet = until !== null;
            address.lastFailureAt = new Date(row.last_failure_at);
          }
        }
        return { charge: { retryAt, address } };
      });
    },

    /** The password was right: the account starts again, and the address gets its attempt back. */
    async recordSuccess(keys: ThrottleKeys, charge: ThrottleCharge): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('login_throttle').where('key', '=', keys.account).execute();
        await trx
          .updateTable('login_throttle')
          .set({
            failures: sql<number>`greatest(failures - 1, 0)`,
            last_failure_at: charge.address.lastFailureAt,
            // While this attempt's lock stood nobody else was counted, so it is simply lifted.
            ...(charge.address.lockSet ? { locked_until: null } : {}),
          })
          .where('key', '=', keys.address)
          .execute();
      });
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

/** The account's failure count (its key names the account). */
export const loginThrottleEraser: Eraser = {
  name: 'methods/password/login-throttle',
  erases: { login_throttle: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('login_throttle').where('key', '=', `citizen:${citizenId}`).execute();
  },
};
