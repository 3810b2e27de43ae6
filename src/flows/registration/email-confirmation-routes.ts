import type { FastifyInstance } from 'fastify';
import { confirmEmail } from '../../identity/contact-proofs.ts';
import type { CodeMechanism } from '../../methods/code/code-mechanism.ts';
import { emailCodeMethod } from '../../methods/email-code/email-code.ts';
import type { InteractionContext, InteractionKit, InteractionParams } from '../interaction-kit.ts';
import { emailCodePage } from './email-code-page.ts';

/** The code page's messages are the e-mail code's own words for what the mechanism answered. */
export const CODE_MESSAGES: Record<string, string> = {
  'code.invalid': 'email_code.invalid',
  'code.expired': 'email_code.expired',
  'code.too_many': 'email_code.too_many',
  'code.unknown': 'email_code.unknown',
  'code.wait': 'email_code.wait',
  'code.send_limit': 'email_code.send_limit',
  'code.limited': 'email_code.send_limit',
};

/**
 * The e-mail confirmation step of registration and of an unconfirmed account's sign-in: the code
 * proves the address; this flow marks it verified, records the proof for the interaction, and
 * completes the sign-in.
 */
export function registerEmailConfirmationRoutes(
  app: FastifyInstance,
  deps: { kit: InteractionKit; codes: CodeMechanism; mailQueued: () => void },
) {
  const { kit, codes } = deps;
  const pendingFor = (ctx: InteractionContext) => codes.pending({ purpose: 'email_confirmation', interactionUid: ctx.details.uid });

  app.get<{ Params: InteractionParams }>('/interaction/:uid/confirm-email', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const pending = await pendingFor(ctx);
    if (!pending) return reply.redirect(`/interaction/${ctx.details.uid}`, 303);
    const info = (request.query as Record<string, string>).sent === '1' ? 'email_code.resent' : undefined;
    return emailCodePage(ctx.ui, { uid: ctx.details.uid, email: pending.address, ...(info ? { info } : {}) });
  });

  app.post<{ Params: InteractionParams; Body: Record<string, unknown> }>('/interaction/:uid/confirm-email', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details, ui } = ctx;
    const pending = await pendingFor(ctx);
    if (!pending) return reply.redirect(`/interaction/${details.uid}`, 303);
    const typed = typeof request.body?.code === 'string' ? request.body.code.slice(0, 20) : '';
    const checked = await kit.transaction(async (trx) => {
      const result = await codes.check({ id: pending.id, purpose: 'email_confirmation', typed }, trx);
      if (!result.ok) return result;
      await confirmEmail(trx, result.proof.citizenId, result.proof.address);
      await kit.verifications.record(
        { interactionUid: details.uid, citizenId: result.proof.citizenId, method: emailCodeMethod, purpose: 'address' },
        trx,
      );
      return result;
    });
    if (!checked.ok) {
      return emailCodePage(ui, {
        uid: details.uid,
        email: pending.address,
        error: CODE_MESSAGES[checked.code]!,
        ...(checked.code === 'code.invalid' ? { errorParams: { tries: checked.triesLeft } } : {}),
      });
    }
    return kit.completeLogin(request, reply, ctx);
  });

  app.post<{ Params: InteractionParams }>('/interaction/:uid/confirm-email/resend', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const pending = await pendingFor(ctx);
    if (!pending) return reply.redirect(`/interaction/${ctx.details.uid}`, 303);
    const outcome = await codes.resend(pending.id, 'email_confirmation', await kit.messagesFor(ctx.ui, pending.citizenId));
    if (outcome === 'sent') {
      deps.mailQueued();
      return reply.redirect(`/interaction/${ctx.details.uid}/confirm-email?sent=1`, 303);
    }
    return emailCodePage(ctx.ui, { uid: ctx.details.uid, email: pending.address, error: CODE_MESSAGES[outcome]! });
  });
}
