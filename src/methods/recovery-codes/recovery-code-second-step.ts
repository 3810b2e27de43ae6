import { RATE_LIMITS, type RateLimiter } from '../../platform/rate-limit.ts';
import type { TypedSecondStep } from '../second-step.ts';
import { recoveryCodeMethod, type RecoveryCodes } from './recovery-codes.ts';

/**
 * A saved recovery code as a typed second step (ASVS 5 6.4.3: a reset by e-mail or SMS on an account
 * with a second factor still asks for one; a code kept on paper is one). Listed beside the
 * authenticator when the account has unused codes; a right code is spent, a wrong one counts
 * against the account's daily tries, the same limit as on the recovery page.
 */
export function recoveryCodeSecondStep(codes: RecoveryCodes, limiter: RateLimiter): TypedSecondStep {
  return {
    method: recoveryCodeMethod,
    labels: { heading: 'recovery.saved_code_title', input: 'recovery.saved_code', hint: 'recovery.saved_code_hint' },
    input: { inputmode: 'text', autocomplete: 'off', maxlength: 64 },
    has: async (citizenId, db) => ((await codes.status(citizenId, db))?.left ?? 0) > 0,
    async check(trx, citizenId, typed) {
      const limited = await limiter.hit(RATE_LIMITS.recoveryCodeTries, `citizen:${citizenId}`, trx);
      if (!limited.allowed) return { ok: false, code: 'recovery.saved_code_limited', retryAt: limited.retryAt };
      const used = await codes.consume(citizenId, typed, trx);
      return used.ok ? { ok: true } : { ok: false, code: 'recovery.saved_code_wrong' };
    },
  };
}
