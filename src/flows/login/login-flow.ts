import { normalizeCpf } from '../../identity/cpf.ts';
import type { Citizen, CitizenStore } from '../../identity/citizen-store.ts';
import type { LoginThrottle } from '../../methods/password/login-throttle.ts';
import type { PasswordHasher } from '../../methods/password/password-hasher.ts';
import type { Secrets } from '../../security/secrets.ts';

export type LoginOutcome =
  | { ok: true; citizen: Citizen }
  | { ok: false; code: 'login.invalid' }
  | { ok: false; code: 'login.throttled'; retryAt: Date };

export type LoginMetrics = { record(result: 'success' | 'invalid' | 'throttled'): void };

/**
 * Password login by CPF or e-mail. The answer, and the work done, are the same whether or not the
 * account exists: an unknown identifier still costs one argon2 verification, and throttling keys on
 * what was typed, not on the account.
 */
export function createLoginFlow(deps: {
  citizens: CitizenStore;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  secrets: Secrets;
  metrics?: LoginMetrics;
}) {
  const { citizens, hasher, throttle, secrets, metrics } = deps;
  return {
    async attempt(input: { identifier: string; password: string; ip: string }): Promise<LoginOutcome> {
      const typed = normalizeCpf(input.identifier) ?? input.identifier.trim().toLowerCase();
      const keys = { account: `id:${secrets.digest('login-id', typed)}`, address: `ip:${input.ip}` };
      const blocked = await throttle.blockedUntil(keys);
      if (blocked) {
        metrics?.record('throttled');
        return { ok: false, code: 'login.throttled', retryAt: blocked };
      }
      const citizen = await citizens.findByIdentifier(input.identifier);
      const usable = citizen && citizen.status === 'active' ? citizen : undefined;
      const valid = await hasher.verify(usable?.passwordHash ?? null, input.password);
      if (!usable || !valid) {
        const retryAt = await throttle.recordFailure(keys);
        metrics?.record('invalid');
        return retryAt ? { ok: false, code: 'login.throttled', retryAt } : { ok: false, code: 'login.invalid' };
      }
      await throttle.recordSuccess(keys);
      if (hasher.needsRehash(usable.passwordHash!)) {
        await citizens.setPasswordHash(usable.id, await hasher.hash(input.password));
      }
      metrics?.record('success');
      return { ok: true, citizen: usable };
    },
  };
}

export type LoginFlow = ReturnType<typeof createLoginFlow>;
