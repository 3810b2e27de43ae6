import type { Db } from '../db/database.ts';
import type { Citizen } from '../identity/citizen-store.ts';

/**
 * The contract every way of proving something satisfies (password today; codes by e-mail and SMS;
 * later certificate, passkey, TOTP, recovery codes). A method declares what it proves and how much
 * that is worth; it records each proof as a verification (see verifications.ts), and one place
 * (assurance.ts) turns the verifications of an interaction into amr, acr and auth_time.
 *
 * Adding a method: a folder under src/methods/ whose module exports a `SignInMethod`, and one line
 * in registry.ts. Its pages and routes, if it has any, sit in the same folder
 * (`<method>-routes.ts`) and the registry line registers them.
 */
export type Factor = 'knowledge' | 'possession' | 'inherence';

/** Trust levels, lowest first (gov.br's bronze, prata, ouro); they are the `acr` values. */
export const TRUST_LEVELS = ['bronze', 'prata', 'ouro'] as const;
export type TrustLevel = (typeof TRUST_LEVELS)[number];

/** What a proof was for: signing in, or showing that the citizen holds an address (e-mail, phone). */
export type ProofPurpose = 'authentication' | 'address';

export type MethodId = 'password' | 'email_code' | 'sms_code' | 'certificate' | 'secret_question' | 'recovery_code' | 'totp' | 'passkey';

export type SignInMethod = {
  readonly id: MethodId;
  readonly factor: Factor;
  /** RFC 8176 values a sign-in with this method contributes to `amr`. */
  readonly amr: readonly string[];
  /** The highest trust level this method alone can reach. */
  readonly assurance: TrustLevel;
  /** Whether the citizen has this method set up and may use it now (a credential may need a read). */
  has(citizen: Citizen, db: Db): Promise<boolean>;
};
