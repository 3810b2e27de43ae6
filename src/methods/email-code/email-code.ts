import { enqueueMail } from '../../messaging/message-queue.ts';
import type { CodeSender } from '../code/code-mechanism.ts';
import type { SignInMethod } from '../method.ts';

export { CODE_TTL_SECONDS, MAX_SENDS, MAX_TRIES, RESEND_AFTER_SECONDS } from '../code/code-store.ts';

/** The e-mail channel of the code mechanism: the code travels in a mail in the citizen's language. */
export const sendEmailCode: CodeSender = async (trx, { to, code, minutes, t }) => {
  await enqueueMail(trx, {
    to,
    subject: t('mail.email_code.subject', { code }),
    text: t('mail.email_code.body', { code, minutes }),
  });
};

/**
 * A code by mail proves the citizen holds the mailbox. Today it confirms addresses (registration,
 * an unconfirmed account's sign-in, an e-mail change); recovery will use it to sign in.
 */
export const emailCodeMethod: SignInMethod = {
  id: 'email_code',
  factor: 'possession',
  amr: ['otp'],
  assurance: 'bronze',
  has: async (citizen) => citizen.emailVerified,
};
