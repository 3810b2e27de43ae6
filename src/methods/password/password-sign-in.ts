import { normalizeCpf } from '../../identity/cpf.ts';
import type { Citizen, CitizenStore } from '../../identity/citizen-store.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { Secrets } from '../../security/secrets.ts';

export type LoginOutcome =
  | { ok: true; citizen: Citizen }
  | { ok: false; code: 'login.invalid' }
  | { ok: false; code: 'login.throttled'; retryAt: Date };

export type LoginMetrics = { record(result: 'success' | 'invalid' | 'throttled'): void };

/**
 * Password login by CPF or e-mail. The answer, and the work done, are the same whether or not the
 * account exists: an unknown identifier still costs one argon2 verification, and its failures are
 * counted under what was typed exactly as an account's are counted under the account. An account
 * has one count for its CPF and its e-mail together: alternating them gains no guesses. How the
 * counts slow guessing without locking the owner out: login-throttle.ts.
 */
export function createPasswordSignIn(deps: {
  citizens: CitizenStore;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  secrets: Secrets;
  metrics?: LoginMetrics;
}) {
  const { citizens, hasher, throttle, secrets, metrics } = deps;
  return {
    async attempt(input: { identifier: string; password: string; ip: string }): Promise<LoginOutcome> {
      const citizen = await citizens.findByIdentifier(input.identifier);
      const typed = normalizeCpf(input.identifier) ?? input.identifier.trim().toLowerCase();
      const keys = {
        account: citizen ? `citizen:${citizen.id}` : `id:${secrets.digest('login-id', typed)}`,
        address: `ip:${input.ip}`,
      };
      // Counted as a failure before the check, so parallel guesses cannot all slip past the lock.
      const counted = await throttle.charge(keys);
      if ('blocked' in counted) {
        metrics?.record('throttled');
        return { ok: false, code: 'login.throttled', retryAt: counted.blocked };
      }
      const { charge } = counted;
      const usable = citizen && citizen.status === 'active' ? citizen : undefined;
      const valid = await hasher.verify(usable?.passwordHash ?? null, input.password);
      if (!usable || !valid) {
        metrics?.record('invalid');
        const retryAt = await throttle.recordFailure(keys, charge);
        return retryAt ? { ok: false, code: 'login.throttled', retryAt } : { ok: false, code: 'login.invalid' };
      }
      await throttle.recordSuccess(keys, charge);
      if (hasher.needsRehash(usable.passwordHash!)) {
        await citizens.setPasswordHash(usable.id, await hasher.hash(input.password));
      }
      metrics?.record('success');
      return { ok: true, citizen: usable };
    },
  };
}

export type PasswordSignIn = ReturnType<typeof createPasswordSignIn>;
