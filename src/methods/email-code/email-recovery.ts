import { listIdentifiers } from '../../identity/identifiers.ts';
import type { CodeRecoveryStrategy } from '../recovery-strategy.ts';
import { maskEmail } from '../recovery-strategy.ts';

const STAND_IN_DOMAINS = [
  'gmail.com',
  'hotmail.com',
  'outlook.com',
  'yahoo.com.br',
  'uol.com.br',
  'bol.com.br',
];
const LETTERS = 'abcdefghijlmnoprstv';

/**
 * A code by mail to the primary e-mail or to a *verified* alternate one, the citizen choosing which;
 * 15 minutes (mail is slower than SMS), one use. The primary counts even unconfirmed: proving it
 * here is how the owner of an unconfirmed registration gets it back.
 */
export const emailRecovery: CodeRecoveryStrategy = {
  kind: 'code',
  channel: 'email',
  ttlSeconds: 15 * 60,
  label: 'recovery.way.email',
  async destinations(citizen, db) {
    const primary = citizen.email;
    const alternates = (await listIdentifiers(db, citizen.id))
      .filter((i) => i.kind === 'email' && i.verified && i.value.toLowerCase() !== primary?.toLowerCase())
      .map((i) => i.value);
    // A foreign account may have no e-mail at all: then only its alternates, if any.
    return [...(primary ? [primary] : []), ...alternates].map((address) => ({ address, masked: maskEmail(address) }));
  },
  standIns(seed, { email: typedEmail }) {
    const local = `${LETTERS[seed[0]! % LETTERS.length]}${LETTERS[seed[1]! % LETTERS.length]}${'x'.repeat(1 + (seed[2]! % 8))}`;
    const primary = typedEmail ?? `${local}@${STAND_IN_DOMAINS[seed[3]! % STAND_IN_DOMAINS.length]}`;
    const out = [maskEmail(primary)];
    // About one account in eight has a verified alternate e-mail.
    if (seed[4]! < 32)
      out.push(
        maskEmail(
          `${LETTERS[seed[5]! % LETTERS.length]}${'x'.repeat(2 + (seed[6]! % 6))}@${STAND_IN_DOMAINS[seed[7]! % STAND_IN_DOMAINS.length]}`,
        ),
      );
    return out;
  },
};
