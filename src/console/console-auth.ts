import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CitizenStore } from '../identity/citizen-store.ts';
import { isLevel, type Level, levelRank } from '../identity/trust-levels.ts';
import type { Oidc } from '../oidc/provider.ts';
import type { OperatorStore, Role } from './operator-store.ts';

/** The console signs in through the provider as this first-party service (decision 23). */
export const CONSOLE_CLIENT_ID = 'cidadela-console';

export type Operator = { citizenId: string; name: string; roles: Role[]; acr: Level; amr: string[]; authTime: number };

export type OperatorCheck =
  | { ok: true; operator: Operator }
  /** No session, or one too old or below the level: sign in (again) through the provider. */
  | { ok: false; why: 'sign_in' }
  /** Signed in, fresh, at the level, but not an operator, or not one with the role this page needs. */
  | { ok: false; why: 'not_operator' | 'wrong_role' }
  /** An operator whose sign-in did not use a second factor while the deployment asks for one. */
  | { ok: false; why: 'second_factor' };

export type ConsolePolicy = {
  minAcr: Level;
  maxAgeSeconds: number;
  /**
   * Whether a sign-in proved a second factor. The hook where "operators always need a second
   * factor" plugs in (issue 11): today the sign-in's `amr` has `mfa` when two kinds of factor were
   * proven (methods/assurance.ts); ADMIN_REQUIRE_MFA=on makes the console insist on it.
   */
  secondFactor: ((amr: readonly string[]) => boolean) | null;
};

export const amrHasSecondFactor = (amr: readonly string[]) => amr.includes('mfa');

/**
 * Who is at the console: the provider's session (SSO, like the account pages), checked on every
 * request against the console's policy and the operators table. Nothing is cached in a cookie of
 * its own, so a revoked role or a disabled account stops working at the next request.
 */
export function createConsoleAuth(deps: {
  oidc: Oidc;
  citizens: CitizenStore;
  operators: OperatorStore;
  issuer: string;
  policy: ConsolePolicy;
  now?: () => number;
}) {
  const { policy } = deps;
  const now = deps.now ?? (() => Date.now());

  async function check(request: FastifyRequest, reply: FastifyReply, allowed: readonly Role[]): Promise<OperatorCheck> {
    const session = await deps.oidc.sessionAccount(request.raw, reply.raw);
    if (!session) return { ok: false, why: 'sign_in' };
    const citizen = await deps.citizens.findById(session.accountId);
    if (!citizen || citizen.status !== 'active') return { ok: false, why: 'sign_in' };
    const roles = await deps.operators.rolesOf(citizen.id);
    if (roles.length === 0) return { ok: false, why: 'not_operator' };
    const acr: Level = isLevel(session.acr) ? session.acr : 'bronze';
    const fresh = typeof session.authTime === 'number' && now() / 1000 - session.authTime <= policy.maxAgeSeconds;
    if (!fresh || levelRank(acr) < levelRank(policy.minAcr)) return { ok: false, why: 'sign_in' };
    const amr = session.amr ?? [];
    if (policy.secondFactor && !policy.secondFactor(amr)) return { ok: false, why: 'second_factor' };
    if (!roles.some((r) => allowed.includes(r))) return { ok: false, why: 'wrong_role' };
    return { ok: true, operator: { citizenId: citizen.id, name: citizen.socialName ?? citizen.name, roles, acr, amr, authTime: session.authTime! } };
  }

  /** The authorization request that gives a fresh sign-in at the console's level (max_age, acr_values). */
  function signInUrl(): string {
    const url = new URL('/oidc/auth', deps.issuer);
    url.search = new URLSearchParams({
      client_id: CONSOLE_CLIENT_ID,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: `${deps.issuer}/admin/callback`,
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
      state: randomBytes(12).toString('base64url'),
      max_age: String(policy.maxAgeSeconds),
      acr_values: policy.minAcr,
    }).toString();
    return url.href;
  }

  return { check, signInUrl };
}

export type ConsoleAuth = ReturnType<typeof createConsoleAuth>;
