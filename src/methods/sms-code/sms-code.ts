import { enqueueSms } from '../../messaging/message-queue.ts';
import { RATE_LIMITS } from '../../platform/rate-limit.ts';
import type { CodeSender } from '../code/code-mechanism.ts';
import type { SignInMethod } from '../method.ts';

/** SMS cost money and reach a person's phone: per citizen and per number, few per day (RATE_LIMITS). */
export const SMS_LIMITS = { perCitizen: RATE_LIMITS.smsPerCitizen, perNumber: RATE_LIMITS.smsPerNumber };

/** The SMS channel of the code mechanism. */
export const sendSmsCode: CodeSender = async (trx, { to, code, minutes, t }) => {
  await enqueueSms(trx, { to, text: t('sms.phone_code', { code, minutes }) });
};

/** A code by SMS proves the citizen holds the mobile number (RFC 8176 `sms`). */
export const smsCodeMethod: SignInMethod = {
  id: 'sms_code',
  factor: 'possession',
  amr: ['sms'],
  assurance: 'bronze',
  has: async (citizen) => Boolean(citizen.phoneNumber && citizen.phoneNumberVerified),
};
