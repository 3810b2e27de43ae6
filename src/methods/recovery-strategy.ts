import type { Db } from '../db/database.ts';
import type { Citizen } from '../identity/citizen-store.ts';
import type { CodeChannel } from './code/code-mechanism.ts';

/** Where a recovery code can go: the address, and how the page shows it. */
export type RecoveryDestination = { address: string; masked: string };

/**
 * How a sign-in method helps a citizen who lost the password (the recovery flow, src/flows/recovery/,
 * lists every method's strategy from the registry). A code strategy sends a code for the purpose
 * `recovery` on its channel to one of the account's proven destinations.
 */
export type CodeRecoveryStrategy = {
  kind: 'code';
  channel: CodeChannel;
  /** How long its recovery code lives. */
  ttlSeconds: number;
  /** Locale key of the option, with `{address}`: the masked destination. */
  label: string;
  destinations(citizen: Citizen, db: Db): Promise<RecoveryDestination[]>;
  /**
   * For an identifier that is nobody's, masked destinations to show instead, drawn from `seed` (a
   * keyed digest of what was typed: the same every time, so asking twice reveals nothing).
   */
  standIns(seed: Buffer, typed: { email?: string | undefined; phone?: string | undefined }): string[];
};

/**
 * A proof typed on the recovery pages themselves (a saved recovery code; the secret question with the
 * record's birth date and mother's name). Offered to every identifier alike, account or not, so the
 * list of ways tells nothing; the flow has one page for each (decision 22).
 */
export type TypedRecoveryStrategy = {
  kind: 'recovery_code' | 'secret_question';
  /** Locale key of the option. */
  label: string;
};

export type RecoveryStrategy = CodeRecoveryStrategy | TypedRecoveryStrategy;

/** `jo••••@gmail.com`: enough to recognise one's own address, not enough to learn someone's. */
export function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  const shown = local.length <= 2 ? local.slice(0, 1) : local.slice(0, 2);
  return `${shown}${'•'.repeat(Math.max(1, Math.min(local.length - shown.length, 6)))}@${domain}`;
}

/** `+55 41 9••••-1234` for a Brazilian mobile; other countries: the first digits and the last four. */
export function maskPhone(e164: string): string {
  const m = e164.match(/^\+55(\d{2})(\d)\d+(\d{4})$/);
  if (m) return `+55 ${m[1]} ${m[2]}••••-${m[3]}`;
  return `${e164.slice(0, 4)}••••${e164.slice(-4)}`;
}
