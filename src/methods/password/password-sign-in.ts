import type { Citizen, CitizenStore } from '../../identity/citizen-store.ts';
import type { CredentialStore } from '../../identity/credential-store.ts';
import { identifierKeys } from '../../identity/identifiers.ts';
import type { CountryCode } from '../../identity/phone.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './password-hasher.ts';
import type { Secrets } from '../../security/secrets.ts';

/**
 * `accountId` on a refusal names the account the identifier belongs to, for its security record
 * only: never shown, and the answer is the same without it.
 */
export type LoginOutcome =
  | { ok: true; citizen: Citizen }
  | { ok: false; code: 'login.invalid'; accountId?: string }
  | { ok: false; code: 'login.throttled'; retryAt: Date; accountId?: string };

export type LoginMetrics = { record(result: 'success' | 'invalid' | 'throttled'): void };

/**
 * Password login by CPF, e-mail or proven mobile number. The answer, and the work done, are the
 * same whether or not the account exists: an unknown identifier still costs one argon2
 * verification, and its failures are counted under what was typed exactly as an account's are
 * counted under the account. An account has one count for all its identifiers together:
 * alternating them gains no guesses. How the counts slow guessing without locking the owner out:
 * login-throttle.ts.
 */
export function createPasswordSignIn(deps: {
  citizens: CitizenStore;
  credentials: CredentialStore;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  secrets: Secrets;
  metrics?: LoginMetrics;
}) {
  const { citizens, credentials, hasher, throttle, secrets, metrics } = deps;
  return {
    /** `country`: how a mobile number typed in its national form is read (the city's pages: BR). */
    async attempt(input: { identifier: string; password: string; ip: string; country?: CountryCode }): Promise<LoginOutcome> {
      const country = input.country ?? 'BR';
      const citizen = await citizens.findByIdentifier(input.identifier, { country });
      const typed = identifierKeys(input.identifier, { country })[0]?.value.toLowerCase() ?? input.identifier.trim().toLowerCase();
      const keys = {
        account: citizen ? `citizen:${citizen.id}` : `id:${secrets.digest('login-id', typed)}`,
        address: `ip:${input.ip}`,
      };
      // Counted as a failure before the check, so parallel guesses cannot all slip past the lock.
      const counted = await throttle.charge(keys);
      if ('blocked' in counted) {
        metrics?.record('throttled');
        return { ok: false, code: 'login.throttled', retryAt: counted.blocked, ...(citizen ? { accountId: citizen.id } : {}) };
      }
      const { charge } = counted;
      const usable = citizen && citizen.status === 'active' ? citizen : undefined;
      const password = usable ? await credentials.get(usable.id, 'password') : undefined;
      const valid = await hasher.verify(password?.secret ?? null, input.password);
      if (!usable || !valid) {
        metrics?.record('invalid');
        const retryAt = await throttle.recordFailure(keys, charge);
        const account = citizen ? { accountId: citizen.id } : {};
        return retryAt ? { ok: false, code: 'login.throttled', retryAt, ...account } : { ok: false, code: 'login.invalid', ...account };
      }
      await throttle.recordSuccess(keys, charge);
      if (hasher.needsRehash(password!.secret!)) {
        await credentials.set(usable.id, 'password', { secret: await hasher.hash(input.password) });
      }
      await credentials.markUsed(password!.id);
      metrics?.record('success');
      return { ok: true, citizen: usable };
    },
  };
}

export type PasswordSignIn = ReturnType<typeof createPasswordSignIn>;
