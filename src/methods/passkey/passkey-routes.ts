import type { FastifyInstance, FastifyReply } from 'fastify';
import type { InteractionKit, InteractionParams } from '../../flows/interaction-kit.ts';
import type { Ui } from '../../web/request-context.ts';
import { passkeyMethod } from './passkey.ts';
import type { PasskeyCeremonies } from './passkey-ceremonies.ts';

/** A refusal the page's script shows as it is, in the person's language. */
export function passkeyRefusal(reply: FastifyReply, ui: Ui, code: string, status = 400) {
  return reply.status(status).type('application/json').send({ error: code, message: ui.t(code) });
}

/**
 * Signing in with a passkey, from the login page (alone: it is two factors) or the second-step page
 * (after a password: it must be the same account's). The page's script asks for options, lets the
 * browser sign them, and sends the answer; a proof is recorded for the interaction and the browser
 * goes to `/interaction/:uid/complete`, which finishes from the records.
 */
export function registerPasskeyRoutes(app: FastifyInstance, deps: { kit: InteractionKit; passkeys: PasskeyCeremonies }) {
  const { kit, passkeys } = deps;

  app.post<{ Params: InteractionParams }>('/interaction/:uid/passkey/opcoes', { bodyLimit: 4096 }, async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    if (ctx.details.prompt.name !== 'login') return passkeyRefusal(reply, ctx.ui, 'passkey.invalid');
    return reply.type('application/json').send(await passkeys.authenticationOptions(ctx.details.uid));
  });

  app.post<{ Params: InteractionParams; Body: Record<string, unknown> }>('/interaction/:uid/passkey', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details, ui } = ctx;
    if (details.prompt.name !== 'login') return passkeyRefusal(reply, ui, 'passkey.invalid');
    const outcome = await kit.transaction(async (trx) => {
      const result = await passkeys.authenticate(details.uid, request.body?.response, trx);
      if (!result.ok) return result;
      // After a password, the passkey must be the same account's: never a sign-in of two people.
      const earlier = await kit.verifications.forInteraction(details.uid, trx);
      if (earlier.some((v) => v.citizenId !== result.passkey.citizenId)) return { ok: false as const, code: 'passkey.other_account' as const };
      await kit.verifications.record({ interactionUid: details.uid, citizenId: result.passkey.citizenId, method: passkeyMethod, amr: result.amr }, trx);
      return result;
    });
    if (!outcome.ok) return passkeyRefusal(reply, ui, outcome.code, outcome.code === 'passkey.other_account' ? 409 : 401);
    return reply.type('application/json').send({ redirect: `/interaction/${details.uid}/complete` });
  });
}
