import type { CodeRecoveryStrategy } from '../recovery-strategy.ts';
import { maskPhone } from '../recovery-strategy.ts';

const AREAS = ['11', '21', '31', '41', '47', '48', '51', '61', '71', '81', '85'];

/** A code by SMS to the proven mobile number: 10 minutes, one use, 5 wrong tries for all its resends. */
export const smsRecovery: CodeRecoveryStrategy = {
  kind: 'code',
  channel: 'sms',
  ttlSeconds: 10 * 60,
  label: 'recovery.way.sms',
  async destinations(citizen) {
    if (!citizen.phoneNumber || !citizen.phoneNumberVerified) return [];
    return [{ address: citizen.phoneNumber, masked: maskPhone(citizen.phoneNumber) }];
  },
  standIns(seed, { phone }) {
    // A number typed is the one an account found by it would show (only a proven number finds one).
    if (phone) return [maskPhone(phone)];
    // About four accounts in ten have proven a mobile number.
    if (seed[8]! >= 100) return [];
    const last = String(((seed[9]! << 8) | seed[10]!) % 10_000).padStart(4, '0');
    return [maskPhone(`+55${AREAS[seed[11]! % AREAS.length]}9${'0'.repeat(8 - 4)}${last}`)];
  },
};
