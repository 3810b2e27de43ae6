import type { FastifyInstance } from 'fastify';
import { RATE_LIMITS, type RateLimiter } from '../../platform/rate-limit.ts';
import type { Service } from '../../services/service-store.ts';
import { type InteractionKit, type InteractionParams, retryAfter } from '../interaction-kit.ts';
import { readRegistrationForm, REGISTRATION_FIELDS, type RegistrationFlow } from './registration-flow.ts';
import { registrationPage } from './registration-page.ts';

/** What the signing-in service requires beyond the core form, so the citizen types it once. */
function serviceAsks(service: Service | undefined) {
  const required = (service?.fields ?? []).filter((f) => f.required).map((f) => f.key);
  return {
    extraFields: required.filter((k) => !(REGISTRATION_FIELDS as readonly string[]).includes(k)),
    requiredCore: required.filter((k) => (REGISTRATION_FIELDS as readonly string[]).includes(k)),
  };
}

/** Registration from a service's login page: the form, then the e-mail confirmation. */
export function registerRegistrationRoutes(
  app: FastifyInstance,
  deps: { kit: InteractionKit; registration: RegistrationFlow; rateLimiter: RateLimiter; mailQueued: () => void },
) {
  const { kit } = deps;

  app.get<{ Params: InteractionParams }>('/interaction/:uid/register', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    return registrationPage(ctx.ui, { uid: ctx.details.uid, serviceName: ctx.service?.name, ...serviceAsks(ctx.service) });
  });

  app.post<{ Params: InteractionParams; Body: Record<string, unknown> }>('/interaction/:uid/register', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details, ui, service } = ctx;
    if (details.prompt.name !== 'login') return reply.redirect(`/interaction/${details.uid}`, 303);
    const form = readRegistrationForm(request.body ?? {});
    const asks = serviceAsks(service);
    const body = request.body ?? {};
    const limited = await deps.rateLimiter.hit(RATE_LIMITS.registration, request.ip);
    if (!limited.allowed) {
      retryAfter(reply, limited.retryAt);
      return registrationPage(ui, {
        uid: details.uid,
        serviceName: service?.name,
        form: { ...form, password: '' },
        errors: { cpf: 'register.rate_limited' },
        ...asks,
        status: 429,
      });
    }
    const result = await deps.registration.register(form, {
      interactionUid: details.uid,
      locale: ui.locale,
      t: ui.t,
      extra: { fields: [...asks.requiredCore, ...asks.extraFields], body },
    });
    if (!result.ok) {
      // Everything typed comes back, except the password.
      const extraForm: Record<string, string> = {};
      for (const [k, v] of Object.entries(body)) if (k.startsWith('f_') && typeof v === 'string') extraForm[k] = v.slice(0, 300);
      return registrationPage(ui, {
        uid: details.uid,
        serviceName: service?.name,
        form: { ...form, password: '' },
        errors: result.errors,
        ...asks,
        extraForm,
      });
    }
    deps.mailQueued();
    return reply.redirect(`/interaction/${details.uid}/confirm-email`, 303);
  });
}
