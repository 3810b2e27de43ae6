import { enqueueMail } from '../../messaging/message-queue.ts';
import { renderMail } from '../../messaging/templates.ts';
import type { CodeSender } from '../code/code-mechanism.ts';
import type { SignInMethod } from '../method.ts';

export { CODE_TTL_SECONDS, MAX_SENDS, MAX_TRIES, RESEND_AFTER_SECONDS } from '../code/code-store.ts';

/**
 * The e-mail channel of the code mechanism: the code travels in a mail in the citizen's language.
 * A recovery code also comes as a link; the code rides in the fragment, which browsers never send
 * to a server, so it reaches no log (the page's script puts it in the form).
 */
export function emailCodeSender(options: { publicUrl?: string } = {}): CodeSender {
  return async (trx, { to, code, minutes, t, purpose }) => {
    if (purpose === 'recovery' && options.publicUrl) {
      const link = `${options.publicUrl}/recuperar/codigo#codigo=${code}`;
      await enqueueMail(trx, renderMail(t, 'recovery_code', to, { code, minutes, link }));
      return;
    }
    await enqueueMail(trx, renderMail(t, 'email_code', to, { code, minutes }));
  };
}

export const sendEmailCode: CodeSender = emailCodeSender();

/**
 * A code by mail proves the citizen holds the mailbox: it confirms addresses (registration, an
 * unconfirmed account's sign-in, an e-mail change) and recovers an account.
 */
export const emailCodeMethod: SignInMethod = {
  id: 'email_code',
  factor: 'possession',
  amr: ['otp'],
  assurance: 'bronze',
  has: async (citizen) => citizen.emailVerified,
};
