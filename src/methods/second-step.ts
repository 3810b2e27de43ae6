import type { Db } from '../db/database.ts';
import type { SignInMethod } from './method.ts';

/**
 * A second step the citizen types (an authenticator's code; saved recovery codes, issue 10, plug in
 * here): the second-step pages of sign-in and recovery list every entry the citizen `has`, one form
 * each, and a successful `check` is recorded as a proof of `method` for the interaction. A check
 * spends what it accepts (a code is good once) and counts wrong ones against the account.
 */
export type TypedSecondStep = {
  method: Pick<SignInMethod, 'id' | 'factor' | 'amr' | 'assurance'>;
  /** i18n keys: the form's heading, its input's label and hint. */
  labels: { heading: string; input: string; hint: string };
  /** The input's attributes: a six-digit code is `numeric` and `one-time-code`. */
  input: { inputmode: 'numeric' | 'text'; autocomplete: string; maxlength: number };
  has(citizenId: string, db: Db): Promise<boolean>;
  check(trx: Db, citizenId: string, typed: string): Promise<{ ok: true } | { ok: false; code: string; retryAt?: Date }>;
};
