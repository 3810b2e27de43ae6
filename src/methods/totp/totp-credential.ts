import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import { createCredentialStore } from '../../identity/credential-store.ts';
import { RATE_LIMITS, type RateLimiter } from '../../platform/rate-limit.ts';
import type { Secrets } from '../../security/secrets.ts';
import type { TypedSecondStep } from '../second-step.ts';
import { matchCode, newTotpSecret, normaliseCode, totpMethod } from './totp.ts';

/** How long an enrolment page stays good: the secret it shows is sealed into its form. */
export const ENROLMENT_SECONDS = 15 * 60;

export type TotpError = 'totp.format' | 'totp.invalid' | 'totp.replayed' | 'totp.too_many' | 'totp.none' | 'totp.enrol_expired' | 'totp.exists';
export type TotpCheck = { ok: true; credentialId: string } | { ok: false; code: TotpError; retryAt?: Date };

/**
 * The citizen's authenticator: enrolment (the secret shown, then saved only once a code from the app
 * proves it was read), each code checked once, wrong codes limited per account. The secret is sealed
 * with `SECRET_KEY`'s key at rest: a copy of the database alone makes no codes.
 */
export function createTotpCredentials(deps: { db: Db; secrets: Secrets; rateLimiter: RateLimiter }) {
  const { secrets, rateLimiter } = deps;
  const credentials = createCredentialStore(deps.db);

  /** Counts a wrong code; says whether that was the last one allowed. */
  // In the caller's transaction: on PGlite there is one connection, and a statement outside the open
  // transaction would wait for it forever.
  async function failed(citizenId: string, code: TotpError, trx: Db): Promise<TotpCheck> {
    await rateLimiter.hit(RATE_LIMITS.secondFactorFailures, citizenId, trx);
    // The fifth wrong code already says so: the next one would not be compared.
    const until = await rateLimiter.reached(RATE_LIMITS.secondFactorFailures, citizenId, trx);
    return until ? { ok: false, code: 'totp.too_many', retryAt: until } : { ok: false, code };
  }

  /** Before any code is compared: the account's wrong codes this quarter hour. */
  async function limited(citizenId: string, trx: Db): Promise<TotpCheck | undefined> {
    const until = await rateLimiter.reached(RATE_LIMITS.secondFactorFailures, citizenId, trx);
    return until ? { ok: false, code: 'totp.too_many', retryAt: until } : undefined;
  }

  return {
    /** A new secret for this citizen, and the token (sealed, bound to them, expiring) its form carries. */
    start(citizenId: string): { secret: string; token: string } {
      const secret = newTotpSecret();
      const token = secrets.seal(JSON.stringify({ c: citizenId, s: secret, e: Date.now() + ENROLMENT_SECONDS * 1000 }));
      return { secret, token };
    },

    /** The secret a form's token carries, if it is this citizen's and still good. */
    pending(citizenId: string, token: string): string | undefined {
      try {
        const value = JSON.parse(secrets.open(token)) as { c?: unknown; s?: unknown; e?: unknown };
        if (value.c !== citizenId || typeof value.s !== 'string' || typeof value.e !== 'number' || value.e < Date.now()) return undefined;
        return value.s;
      } catch {
        return undefined;
      }
    },

    /** Saves the authenticator once `typed` is a code of the secret shown; refuses a second one. */
    async enrol(trx: Db, citizenId: string, token: string, typed: string): Promise<TotpCheck> {
      const secret = this.pending(citizenId, token);
      if (!secret) return { ok: false, code: 'totp.enrol_expired' };
      if (!normaliseCode(typed)) return { ok: false, code: 'totp.format' };
      const blocked = await limited(citizenId, trx);
      if (blocked) return blocked;
      const match = matchCode(secret, typed);
      if (!match.ok) return failed(citizenId, match.code, trx);
      if (await credentials.get(citizenId, 'totp', trx)) return { ok: false, code: 'totp.exists' };
      // The enrolment's code is spent: the step it came from cannot sign in afterwards.
      const saved = await credentials.set(citizenId, 'totp', { secret: secrets.seal(secret), data: { lastStep: match.step } }, trx);
      return { ok: true, credentialId: saved.id };
    },

    /** Checks a code for signing in (or a recovery's second step): right, in the window, not used before. */
    async check(citizenId: string, typed: string, trx: Db = deps.db): Promise<TotpCheck> {
      if (!normaliseCode(typed)) return { ok: false, code: 'totp.format' };
      const blocked = await limited(citizenId, trx);
      if (blocked) return blocked;
      const credential = await credentials.get(citizenId, 'totp', trx);
      if (!credential?.secret) return { ok: false, code: 'totp.none' };
      const match = matchCode(secrets.open(credential.secret), typed);
      if (!match.ok) return failed(citizenId, match.code, trx);
      // Compare-and-set on the last step accepted: of two requests with one code, one wins.
      const spent = await trx
        .updateTable('credentials')
        .set({
          data: sql`jsonb_set(data, '{lastStep}', to_jsonb(${match.step}::bigint))`,
          last_used_at: sql<Date>`now()`,
        })
        .where('id', '=', credential.id)
        .where(sql<boolean>`coalesce((data ->> 'lastStep')::bigint, -1) < ${match.step}`)
        .executeTakeFirst();
      if (Number(spent.numUpdatedRows) === 0) return failed(citizenId, 'totp.replayed', trx);
      return { ok: true, credentialId: credential.id };
    },
  };
}

export type TotpCredentials = ReturnType<typeof createTotpCredentials>;

/** The authenticator as a typed second step (sign-in and recovery list it with the others). */
export function totpSecondStep(totp: TotpCredentials, db: Db): TypedSecondStep {
  const credentials = createCredentialStore(db);
  return {
    method: totpMethod,
    labels: { heading: 'totp.heading', input: 'totp.code', hint: 'totp.code_hint' },
    input: { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 9 },
    has: async (citizenId, trx) => Boolean(await credentials.get(citizenId, 'totp', trx)),
    check: (trx, citizenId, typed) => totp.check(citizenId, typed, trx),
  };
}
