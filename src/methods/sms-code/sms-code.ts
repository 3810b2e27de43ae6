import { enqueueSms } from '../../messaging/message-queue.ts';
import { renderSms } from '../../messaging/templates.ts';
import { RATE_LIMITS } from '../../platform/rate-limit.ts';
import type { CodeSender } from '../code/code-mechanism.ts';
import type { SignInMethod } from '../method.ts';

/** SMS cost money and reach a person's phone: per citizen and per number, few per day (RATE_LIMITS). */
export const SMS_LIMITS = { perCitizen: RATE_LIMITS.smsPerCitizen, perNumber: RATE_LIMITS.smsPerNumber };

/**
 * The SMS channel of the code mechanism. With the site's host known, the text ends with the
 * origin-bound line (`@host #123456`, the WebOTP / one-time-code format): the phone offers the
 * code only on that site, so a look-alike page cannot collect it by autofill.
 */
export function smsCodeSender(options: { host?: string } = {}): CodeSender {
  return async (trx, { to, code, minutes, t, purpose }) => {
    const name = purpose === 'recovery' ? 'recovery_code' : 'phone_code';
    const sms = renderSms(t, name, to, { code, minutes });
    await enqueueSms(trx, options.host ? { to, text: `${sms.text}\n\n@${options.host} #${code}` } : sms);
  };
}

export const sendSmsCode: CodeSender = smsCodeSender();

/** A code by SMS proves the citizen holds the mobile number (RFC 8176 `sms`). */
export const smsCodeMethod: SignInMethod = {
  id: 'sms_code',
  factor: 'possession',
  amr: ['sms'],
  assurance: 'bronze',
  has: async (citizen) => Boolean(citizen.phoneNumber && citizen.phoneNumberVerified),
};
