import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RATE_LIMITS, type RateLimiter } from '../../platform/rate-limit.ts';
import type { CodeMechanism } from '../../methods/code/code-mechanism.ts';
import { contractFor } from '../../services/service-store.ts';
import { LANG_COOKIE } from '../../web/request-context.ts';
import {
  type InteractionContext,
  type InteractionKit,
  type InteractionParams,
  retryAfter,
} from '../interaction-kit.ts';
import { CODE_MESSAGES } from './email-confirmation-routes.ts';
import {
  foreignExtraFields,
  type ForeignRegistrationFlow,
  readForeignForm,
} from './foreign-registration-flow.ts';
import { foreignRegistrationPage, phoneCodePage } from './foreign-registration-page.ts';

/** The code page's messages for what the mechanism answered (the SMS wording of the same facts). */
const SMS_CODE_MESSAGES: Record<string, string> = {
  ...CODE_MESSAGES,
  'code.limited': 'sms.limited',
  'code.send_limit': 'sms.limited',
};

/**
 * Registration without a CPF, from the login page of a service that accepts foreigners: the form,
 * then the code sent by SMS to the number; the right code creates the account and signs it in.
 * At a service that does not accept foreigners none of these pages exists.
 */
export function registerForeignRegistrationRoutes(
  app: FastifyInstance,
  deps: {
    kit: InteractionKit;
    foreign: ForeignRegistrationFlow;
    codes: CodeMechanism;
    rateLimiter: RateLimiter;
    messageQueued: () => void;
  },
) {
  const { kit, codes } = deps;

  /** The interaction, if it is at its login step for a service that accepts foreigners. */
  async function load(
    request: FastifyRequest<{ Params: InteractionParams }>,
    reply: FastifyReply,
  ): Promise<InteractionContext | undefined> {
    const ctx = await kit.load(request, reply);
    if (!ctx) return undefined;
    if (ctx.details.prompt.name !== 'login' || !ctx.service?.acceptsForeigners) {
      reply.redirect(`/interaction/${ctx.details.uid}`, 303);
      return undefined;
    }
    return ctx;
  }
  const extraFields = (ctx: InteractionContext) =>
    foreignExtraFields(contractFor(ctx.service?.fields ?? [], 'foreign'));
  const pendingFor = (ctx: InteractionContext) =>
    codes.pending({ purpose: 'phone_registration', interactionUid: ctx.details.uid });

  app.get<{ Params: InteractionParams }>('/interaction/:uid/register-foreign', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    return foreignRegistrationPage(ctx.ui, {
      uid: ctx.details.uid,
      serviceName: ctx.service?.name,
      extraFields: extraFields(ctx),
    });
  });

  app.post<{ Params: InteractionParams; Body: Record<string, unknown> }>(
    '/interaction/:uid/register-foreign',
    async (request, reply) => {
      const ctx = await load(request, reply);
      if (!ctx) return reply;
      const { details, ui, service } = ctx;
      const form = readForeignForm(request.body ?? {});
      const page = {
        uid: details.uid,
        serviceName: service?.name,
        form: { ...form, password: '' },
        extraFields: extraFields(ctx),
      };
      const limited = await deps.rateLimiter.hit(RATE_LIMITS.registration, request.ip);
      if (!limited.allowed) {
        retryAfter(reply, limited.retryAt);
        return foreignRegistrationPage(ui, {
          ...page,
          errors: { phone: 'register.rate_limited' },
          status: 429,
        });
      }
      const started = await deps.foreign.start(form, {
        interactionUid: details.uid,
        extraFields: page.extraFields,
      });
      if (!started.ok) {
        if (started.retryAt) retryAfter(reply, started.retryAt);
        // Everything typed comes back, except the password.
        return foreignRegistrationPage(ui, {
          ...page,
          errors: started.errors,
          ...(started.retryAt ? { status: 429 } : {}),
        });
      }
      deps.messageQueued();
      return reply.redirect(`/interaction/${details.uid}/register-foreign/code`, 303);
    },
  );

  app.get<{ Params: InteractionParams }>(
    '/interaction/:uid/register-foreign/code',
    async (request, reply) => {
      const ctx = await load(request, reply);
      if (!ctx) return reply;
      const pending = await pendingFor(ctx);
      if (!pending) return reply.redirect(`/interaction/${ctx.details.uid}/register-foreign`, 303);
      const info = (request.query as Record<string, string>).sent === '1' ? 'foreign.code_resent' : undefined;
      return phoneCodePage(ctx.ui, {
        uid: ctx.details.uid,
        phone: pending.address,
        ...(info ? { info } : {}),
      });
    },
  );

  app.post<{ Params: InteractionParams; Body: Record<string, unknown> }>(
    '/interaction/:uid/register-foreign/code',
    async (request, reply) => {
      const ctx = await load(request, reply);
      if (!ctx) return reply;
      const { details, ui } = ctx;
      const pending = await pendingFor(ctx);
      if (!pending) return reply.redirect(`/interaction/${details.uid}/register-foreign`, 303);
      const typed = typeof request.body?.code === 'string' ? request.body.code.slice(0, 20) : '';
      const result = await deps.foreign.confirm({ flowId: pending.id, typed, interactionUid: details.uid });
      if (!result.ok) {
        if ('code' in result)
          return phoneCodePage(ui, {
            uid: details.uid,
            phone: pending.address,
            error: result.code,
            status: 409,
          });
        const check = result.check;
        return phoneCodePage(ui, {
          uid: details.uid,
          phone: pending.address,
          error: SMS_CODE_MESSAGES[check.code]!,
          ...(check.code === 'code.invalid' ? { errorParams: { tries: check.triesLeft } } : {}),
        });
      }
      // The pages that follow, here and at any later visit, speak the language the person chose.
      reply.setCookie(LANG_COOKIE, result.locale, {
        path: '/',
        sameSite: 'lax',
        secure: request.protocol === 'https',
        maxAge: 365 * 24 * 3600,
      });
      return kit.completeLogin(request, reply, ctx);
    },
  );

  app.post<{ Params: InteractionParams }>(
    '/interaction/:uid/register-foreign/resend',
    async (request, reply) => {
      const ctx = await load(request, reply);
      if (!ctx) return reply;
      const pending = await pendingFor(ctx);
      if (!pending) return reply.redirect(`/interaction/${ctx.details.uid}/register-foreign`, 303);
      const outcome = await codes.resend(pending.id, 'phone_registration', ctx.ui.t);
      if (outcome === 'sent') {
        deps.messageQueued();
        return reply.redirect(`/interaction/${ctx.details.uid}/register-foreign/code?sent=1`, 303);
      }
      return phoneCodePage(ctx.ui, {
        uid: ctx.details.uid,
        phone: pending.address,
        error: SMS_CODE_MESSAGES[outcome]!,
        status: 429,
      });
    },
  );
}
