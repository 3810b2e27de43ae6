import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import type { Eraser } from '../../platform/erasure.ts';

/**
 * Failed password checks, counted three ways (docs/decisions/0012). The caller picks the account
 * key (see password-sign-in.ts) so that an unknown identifier is throttled exactly as an account is.
 *
 * - Per account and address pair: 3 free failures, then 2^(n-3) seconds (capped at 15 minutes);
 *   from 20 failures that pair waits an hour. Only the pair waits: the owner's right password from
 *   an address that has not failed still goes through, so nobody can lock a citizen out by
 *   guessing wrong on purpose.
 * - Per account, whatever the address: from the 10th failure, each slows the account down for
 *   2^(n-9) seconds (capped at 15 minutes). It refuses nobody by itself; while it lasts, a wrong
 *   password from any address makes that pair wait until it ends. Guessing from many addresses
 *   gets one guess per address per slow-down, not three.
 * - Per address, whatever the account: 100 free failures, then the same doubling delay; failures
 *   leak away at 100 an hour. It slows one address spraying many accounts, and is far looser than
 *   the others because carrier-grade NAT puts many citizens behind one address. Only failures
 *   count, after the check: a crowd of right passwords from one address never adds up.
 *
 * Pair and account are counted *before* the password is checked and given back when it was right:
 * counting only after the check let a burst of parallel guesses all pass before the first failure
 * was recorded. A day without failures starts a pair or an account again; old rows are pruned.
 */
export const PAIR_FREE_FAILURES = 3;
export const PAIR_HARD_STOP = 20;
export const ACCOUNT_SLOW_AFTER = 10;
export const ADDRESS_FREE_FAILURES = 100;
export const ADDRESS_LEAK_PER_HOUR = 100;
const MAX_DELAY_SECONDS = 15 * 60;
const HARD_STOP_SECONDS = 3600;

export type ThrottleKeys = { account: string; address: string };

/** An attempt counted in advance, and what to give back if the password turns out right. */
export type ThrottleCharge = {
  /** When this pair may try again if the password is wrong (null: at once). */
  retryAt: Date | null;
  /** The pair's failures counting this attempt: all forgiven to the account on success. */
  pairFailures: number;
  /** The account's slow-down as this attempt set it, and as it was before. */
  account: { set: Date | null; before: Date | null };
};

const pairKey = (keys: ThrottleKeys) => `${keys.account}@${keys.address}`;

/** Seconds to wait after the n-th failure, when `free` failures cost nothing. */
function doubling(failures: number, free: number): number {
  return failures <= free ? 0 : Math.min(2 ** (failures - free), MAX_DELAY_SECONDS);
}

const later = (a: Date | null, b: Date | null) => (!a ? b : !b ? a : a > b ? a : b);

type Row = {
  key: string;
  failures: number;
  locked_until: Date | string | null;
  locked: boolean;
  stale: boolean;
};

/**
 * Statements written once as SQL (the login path runs them on every attempt).
 * `charge` creates the pair and account rows or locks them (a no-op update, so parallel attempts
 * on one pair or account queue here), and reads whether the address is locked, without locking
 * it: every login behind one NAT address would otherwise wait on that one row.
 */
const SQL = {
  charge: `with rows as (
      insert into login_throttle (key, failures, last_failure_at, locked_until)
      select k, 0, now(), null from (values ($1::text), ($2::text)) as v (k)
      where not exists (select 1 from login_throttle where key = $3 and locked_until > now())
      on conflict (key) do update set key = excluded.key
      returning key, failures, last_failure_at, locked_until
    )
    select key, failures, locked_until, coalesce(locked_until > now(), false) as locked,
      last_failure_at < now() - interval '1 day' as stale
    from rows
    union all
    select key, failures, locked_until, true, false from login_throttle where key = $3 and locked_until > now()`,
  count: `update login_throttle set failures = v.failures, last_failure_at = now(), locked_until = v.locked_until
    from (values ($1, $2::int, $3::timestamptz), ($4, $5::int, $6::timestamptz)) as v (key, failures, locked_until)
    where login_throttle.key = v.key`,
  // The pair's row goes; the account forgives the pair's failures (the owner's own typos, proven by
  // this success) and gets back the slow-down it had, unless a failure elsewhere moved it since.
  // Both read the account row as it is when they get to it, so a failure counted meanwhile stays.
  success: `with pair as (delete from login_throttle where key = $1),
      cleared as (
        delete from login_throttle where key = $2 and failures <= $3::int
          and coalesce((case when locked_until = $4::timestamptz then $5::timestamptz else locked_until end) <= now(), true)
        returning key
      )
    update login_throttle set failures = greatest(failures - $3::int, 0),
      locked_until = case when locked_until = $4::timestamptz then $5::timestamptz else locked_until end
    where key = $2 and not exists (select 1 from cleared)`,
  // A leaky bucket: the failures since the last one, less what leaked away in between.
  addressFailure: `insert into login_throttle (key, failures, last_failure_at, locked_until)
    values ($1, 1, now(), null)
    on conflict (key) do update set
      failures = greatest(login_throttle.failures
        - floor(extract(epoch from now() - login_throttle.last_failure_at) * $2::int / 3600)::int, 0) + 1,
      last_failure_at = now()
    returning failures`,
  addressLock: `update login_throttle set locked_until = greatest(locked_until, $2::timestamptz) where key = $1`,
};

export function createLoginThrottle(db: Db) {
  const run = <R = unknown>(trx: Db, text: string, parameters: unknown[]) =>
    trx.executeQuery<R>(CompiledQuery.raw(text, parameters));

  return {
    /**
     * Counts an attempt as a failure of its pair and account, and sets the waits that failure
     * calls for, unless the pair or the address must wait already (then nothing is counted).
     */
    async charge(keys: ThrottleKeys): Promise<{ blocked: Date } | { charge: ThrottleCharge }> {
      const pair = pairKey(keys);
      return db.transaction().execute(async (trx) => {
        const { rows } = await run<Row>(trx, SQL.charge, [pair, keys.account, keys.address]);
        const byKey = new Map(rows.map((r) => [r.key, r]));
        const pairRow = byKey.get(pair);
        const accountRow = byKey.get(keys.account);
        const waits = [pairRow, byKey.get(keys.address)]
          .filter((r) => r?.locked)
          .map((r) => new Date(r!.locked_until!).getTime());
        if (waits.length || !pairRow || !accountRow)
          return { blocked: new Date(waits.length ? Math.max(...waits) : Date.now() + 1000) };

        const now = Date.now();
        const pairFailures = pairRow.stale ? 1 : pairRow.failures + 1;
        const accountFailures = accountRow.stale ? 1 : accountRow.failures + 1;
        const accountBefore =
          accountRow.locked_until && !accountRow.stale ? new Date(accountRow.locked_until) : null;
        const slowFor =
          accountFailures >= ACCOUNT_SLOW_AFTER ? doubling(accountFailures, ACCOUNT_SLOW_AFTER - 1) : 0;
        const accountSet = later(accountBefore, slowFor ? new Date(now + slowFor * 1000) : null);
        const pairSeconds =
          pairFailures >= PAIR_HARD_STOP ? HARD_STOP_SECONDS : doubling(pairFailures, PAIR_FREE_FAILURES);
        let retryAt = pairSeconds ? new Date(now + pairSeconds * 1000) : null;
        // While the account is slowed down, a wrong password waits for the end of it.
        if (accountSet && accountSet.getTime() > now) retryAt = later(retryAt, accountSet);
        await run(trx, SQL.count, [pair, pairFailures, retryAt, keys.account, accountFailures, accountSet]);
        return { charge: { retryAt, pairFailures, account: { set: accountSet, before: accountBefore } } };
      });
    },

    /** The password was right: the pair starts again and the account forgives what the pair failed. */
    async recordSuccess(keys: ThrottleKeys, charge: ThrottleCharge): Promise<void> {
      await run(db, SQL.success, [
        pairKey(keys),
        keys.account,
        charge.pairFailures,
        charge.account.set,
        charge.account.before,
      ]);
    },

    /**
     * The password was wrong: the address counts it too. Returns when the pair (or the address)
     * may try again, or null when at once.
     */
    async recordFailure(keys: ThrottleKeys, charge: ThrottleCharge): Promise<Date | null> {
      const { rows } = await run<{ failures: number }>(db, SQL.addressFailure, [
        keys.address,
        ADDRESS_LEAK_PER_HOUR,
      ]);
      const seconds = doubling(rows[0]!.failures, ADDRESS_FREE_FAILURES);
      if (!seconds) return charge.retryAt;
      const until = new Date(Date.now() + seconds * 1000);
      await run(db, SQL.addressLock, [keys.address, until]);
      return later(charge.retryAt, until);
    },
  };
}

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

/** The account's own count and its pairs with addresses: their keys name the account. */
export const loginThrottleEraser: Eraser = {
  name: 'methods/password/login-throttle',
  erases: { login_throttle: 'deleted' },
  async erase(trx, citizenId) {
    await trx
      .deleteFrom('login_throttle')
      .where(sql<boolean>`key = ${`citizen:${citizenId}`} or starts_with(key, ${`citizen:${citizenId}@`})`)
      .execute();
  },
};

/**
 * Removes rows that no longer slow anyone: no failure for a day (a pair or an account starts
 * again then anyway; an address has leaked its count away) and no wait still running.
 */
export async function pruneLoginThrottle(db: Db): Promise<number> {
  const result = await db
    .deleteFrom('login_throttle')
    .where('last_failure_at', '<', sql<Date>`now() - interval '1 day'`)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', sql<Date>`now()`)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
