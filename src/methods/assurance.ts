import { TRUST_LEVELS, type TrustLevel } from './method.ts';
import type { Verification } from './verifications.ts';

export type SignInResult = {
  citizenId: string;
  /** RFC 8176: what was used, in the order proven; `mfa` when two kinds of factor were. */
  amr: string[];
  /** The trust level reached in this sign-in. */
  acr: TrustLevel;
  /** When the citizen last proved something (OIDC auth_time), in seconds. */
  authTime: number;
};

export type AssuranceRefusal = 'no_authentication' | 'mixed_citizens';

const rank = (level: TrustLevel) => TRUST_LEVELS.indexOf(level);

/**
 * The one place where what a citizen proved becomes what services are told. Only proofs made to
 * sign in count for amr; the level is the highest any of them reaches, never above the account's
 * own level; every proof must be about the same citizen.
 */
export function deriveSignIn(
  verifications: Verification[],
  accountLevel: TrustLevel = 'ouro',
): { ok: true; result: SignInResult } | { ok: false; reason: AssuranceRefusal } {
  const citizens = new Set(verifications.map((v) => v.citizenId));
  if (citizens.size > 1) return { ok: false, reason: 'mixed_citizens' };
  const authentications = verifications.filter((v) => v.purpose === 'authentication');
  if (authentications.length === 0) return { ok: false, reason: 'no_authentication' };
  const amr: string[] = [];
  for (const v of authentications) for (const value of v.amr) if (!amr.includes(value)) amr.push(value);
  if (new Set(authentications.map((v) => v.factor)).size >= 2 && !amr.includes('mfa')) amr.push('mfa');
  let reached: TrustLevel = 'bronze';
  for (const v of authentications) if (rank(v.assurance) > rank(reached)) reached = v.assurance;
  const acr = rank(reached) > rank(accountLevel) ? accountLevel : reached;
  const authTime = Math.floor(Math.max(...verifications.map((v) => v.verifiedAt.getTime())) / 1000);
  return { ok: true, result: { citizenId: authentications[0]!.citizenId, amr, acr, authTime } };
}

/**
 * Methods whose proof is a second step after a password: an authenticator's code, a passkey, the
 * ICP-Brasil certificate, and (issue 10's saved recovery codes) a recovery code. A code by e-mail or
 * SMS is not one: it is what recovery proves, and recovery must not stand in for the second factor.
 */
export const SECOND_STEP_METHODS: ReadonlySet<string> = new Set(['totp', 'passkey', 'certificate', 'recovery_code']);

/** Whether this interaction's proofs include a second step (or a proof that is two factors alone). */
export function secondStepProven(verifications: Verification[]): boolean {
  return verifications.some((v) => v.purpose === 'authentication' && (SECOND_STEP_METHODS.has(v.method) || v.amr.includes('mfa')));
}

/**
 * What the second-step policy asks of a sign-in: nothing, the citizen's factor (they registered
 * one: every password sign-in asks it), or enrolment (the service requires a second step and the
 * citizen has none yet: offered, not refused).
 */
export function secondStepNeeded(input: { hasFactor: boolean; serviceRequires: boolean; proven: boolean }): 'none' | 'ask' | 'enrol' {
  if (input.proven) return 'none';
  if (input.hasFactor) return 'ask';
  return input.serviceRequires ? 'enrol' : 'none';
}

/**
 * The level a sign-in must reach for this request: the service's minimum, raised by `acr_values`
 * (space-separated, any listed value acceptable, so the lowest known one counts).
 */
export function requiredLevel(serviceMinimum: TrustLevel, acrValues: unknown): TrustLevel {
  let asked: TrustLevel = 'bronze';
  if (typeof acrValues === 'string') {
    const known = acrValues.split(' ').filter((v): v is TrustLevel => (TRUST_LEVELS as readonly string[]).includes(v));
    if (known.length) asked = known.reduce((a, b) => (rank(b) < rank(a) ? b : a));
  }
  return rank(asked) > rank(serviceMinimum) ? asked : serviceMinimum;
}

/** Whether `reached` is below `required`. */
export const below = (reached: TrustLevel, required: TrustLevel) => rank(reached) < rank(required);
