import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from './erasure.ts';

export type RateLimitRule = { name: string; limit: number; windowSeconds: number };

/** Rules in one place, so an operator can see every limit there is. */
export const RATE_LIMITS = {
  registration: { name: 'register', limit: 20, windowSeconds: 3600 },
  passwordStrength: { name: 'strength', limit: 300, windowSeconds: 600 },
  /** E-mail codes a citizen may be sent per day (each login of an unconfirmed account sends one). */
  emailCodesPerCitizen: { name: 'email-code', limit: 10, windowSeconds: 24 * 3600 },
  /** E-mail codes one address may receive per day, whoever asks (no mail-bombing, few guesses). */
  emailCodesPerAddress: { name: 'email-code-address', limit: 10, windowSeconds: 24 * 3600 },
  /** E-mail changes a citizen may start per day: each sends a code to an address not yet proven. */
  emailChangesPerCitizen: { name: 'email-change', limit: 5, windowSeconds: 24 * 3600 },
  /** SMS cost money and reach a person's phone: per citizen and per number, few per day. */
  smsPerCitizen: { name: 'sms-citizen', limit: 5, windowSeconds: 24 * 3600 },
  smsPerNumber: { name: 'sms-number', limit: 5, windowSeconds: 24 * 3600 },
  /**
   * SMS to one number range (country, area and the first digits) per day: pumping fraud walks
   * through the numbers of a range it is paid for, each number staying under its own limit.
   */
  smsPerPrefix: { name: 'sms-prefix', limit: 50, windowSeconds: 24 * 3600 },
  /** Recoveries started from one address per day, whatever was typed (no walking through CPFs). */
  recoveryStartsPerAddress: { name: 'recovery-ip', limit: 30, windowSeconds: 24 * 3600 },
  /** Recoveries started per account per day: each may send a code to the citizen. */
  recoveryStartsPerAccount: { name: 'recovery-citizen', limit: 10, windowSeconds: 24 * 3600 },
  /**
   * Secret answers per account per day, right or wrong (counted before the check, so parallel guesses
   * cannot slip past): the 4th in 24 h is refused (issue 10). Nobody's identifier is counted the same.
   */
  secretAnswers: { name: 'secret-answer', limit: 3, windowSeconds: 24 * 3600 },
  /** Saved recovery codes typed per account per day: 80-bit codes, so this only stops a flood. */
  recoveryCodeTries: { name: 'recovery-code', limit: 10, windowSeconds: 24 * 3600 },
  /** Password changes a citizen may make on the account pages per day: each mails every address. */
  passwordChangesPerCitizen: { name: 'password-change', limit: 10, windowSeconds: 24 * 3600 },
  /** Alternate e-mails a citizen may ask to prove per day: each sends a code to an address not yet proven. */
  alternateEmailsPerCitizen: { name: 'alternate-email', limit: 5, windowSeconds: 24 * 3600 },
  /** CPFs a foreign account may try to add per day (each try says whether a CPF has an account). */
  cpfAdditions: { name: 'cpf-add', limit: 5, windowSeconds: 24 * 3600 },
  /**
   * SMS to one foreign country per day, whoever asks: SMS pumping sends to premium ranges abroad, and
   * this bounds the bill of a day's abuse to one country. Brazil is not capped here (the city's own).
   */
  smsPerCountry: { name: 'sms-country', limit: 300, windowSeconds: 24 * 3600 },
  /**
   * Wrong second-step codes (authenticator app, later recovery codes) per account: 5 in 15 minutes,
   * then none is checked until the window ends. A million codes at 5 a quarter hour is years.
   */
  secondFactorFailures: { name: 'second-factor', limit: 5, windowSeconds: 15 * 60 },
} satisfies Record<string, RateLimitRule>;

/**
 * A counter per key and fixed window, kept in the database so that all server copies share it.
 * `hit` counts one action and says whether it is allowed, and until when it is not.
 */
export function createRateLimiter(db: Db) {
  return {
    /** `trx`: count inside the caller's transaction (a rolled-back action is not counted). */
    async hit(rule: RateLimitRule, subject: string, trx: Db = db): Promise<{ allowed: true; remaining: number } | { allowed: false; retryAt: Date }> {
      const key = `${rule.name}:${subject}`;
      const row = await trx
        .insertInto('rate_limits')
        .values({ key, window_start: sql<Date>`now()`, hits: 1 })
        .onConflict((oc) =>
          oc.column('key').doUpdateSet({
            hits: sql<number>`case when rate_limits.window_start < now() - make_interval(secs => ${rule.windowSeconds}) then 1 else rate_limits.hits + 1 end`,
            window_start: sql<Date>`case when rate_limits.window_start < now() - make_interval(secs => ${rule.windowSeconds}) then now() else rate_limits.window_start end`,
          }),
        )
        .returning(['hits', 'window_start'])
        .executeTakeFirstOrThrow();
      if (row.hits <= rule.limit) return { allowed: true, remaining: rule.limit - row.hits };
      return { allowed: false, retryAt: new Date(new Date(row.window_start).getTime() + rule.windowSeconds * 1000) };
    },

    /**
     * Whether the rule's count for `subject` has reached its limit in the current window, without
     * counting anything (a limit on failures is looked at before a check and counted after one).
     */
    async reached(rule: RateLimitRule, subject: string, trx: Db = db): Promise<Date | undefined> {
      const row = await trx
        .selectFrom('rate_limits')
        .select(['hits', 'window_start'])
        .where('key', '=', `${rule.name}:${subject}`)
        .where('window_start', '>=', sql<Date>`now() - make_interval(secs => ${rule.windowSeconds})`)
        .executeTakeFirst();
      if (!row || row.hits < rule.limit) return undefined;
      return new Date(new Date(row.window_start).getTime() + rule.windowSeconds * 1000);
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

/**
 * Counters kept per citizen (codes sent to the account) are named by its id: they go with it.
 * Matched by the key's ending so that a rule added later is covered without being listed here.
 */
export const rateLimitsEraser: Eraser = {
  name: 'platform/rate-limit',
  erases: { rate_limits: 'deleted' },
  async erase(trx, citizenId) {
    await trx
      .deleteFrom('rate_limits')
      .where(sql<string>`right(key, ${citizenId.length + 1})`, '=', `:${citizenId}`)
      .execute();
  },
};
