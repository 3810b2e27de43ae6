import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Citizen, contactProven } from '../../identity/citizen-store.ts';
import type { CodeMechanism } from '../../methods/code/code-mechanism.ts';
import { type InteractionContext, type InteractionKit, retryAfter } from '../interaction-kit.ts';
import { loginPage } from './login-page.ts';

/**
 * The login flow's steps after a method proved who the citizen is: an account whose e-mail was
 * never confirmed proves it first (a code to that address), then the sign-in completes from the
 * verifications recorded for the interaction.
 */
export function createLoginFlow(deps: { kit: InteractionKit; codes: CodeMechanism; mailQueued: () => void }) {
  const { kit, codes } = deps;
  return {
    async continueSignIn(request: FastifyRequest, reply: FastifyReply, ctx: InteractionContext, citizen: Citizen, identifier: string) {
      const { details, ui, service } = ctx;
      const email = citizen.email;
      // With no e-mail and no proven number there is nothing to confirm: completing refuses it.
      if (contactProven(citizen) || !email) return kit.completeLogin(request, reply, ctx);
      const t = await kit.messagesFor(ui, citizen.id);
      const issued = await kit.transaction((trx) =>
        codes.issue(trx, {
          purpose: 'email_confirmation',
          channel: 'email',
          citizenId: citizen.id,
          address: email,
          interactionUid: details.uid,
          t,
        }),
      );
      if (!issued.ok) {
        if ('retryAt' in issued) retryAfter(reply, issued.retryAt);
        return loginPage(ui, { uid: details.uid, serviceName: service?.name, certificate: kit.certificateLogin, identifier, error: 'email_code.send_limit', status: 429 });
      }
      deps.mailQueued();
      return reply.redirect(`/interaction/${details.uid}/confirm-email`, 303);
    },
  };
}

export type LoginFlow = ReturnType<typeof createLoginFlow>;
