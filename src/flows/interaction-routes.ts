import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import type { CitizenStore } from '../identity/citizen-store.ts';
import { isUnavailable } from '../platform/errors.ts';
import { html } from '../web/html.ts';
import { RATE_LIMITS, type RateLimiter } from '../platform/rate-limit.ts';
import type { Ui, UiFactory } from '../web/request-context.ts';
import type { EmailCodeMethod } from '../methods/email-code/email-code.ts';
import type { PasswordPolicy } from '../methods/password/password-policy.ts';
import type { Oidc } from '../oidc/provider.ts';
import type { Service, ServiceStore } from '../services/service-store.ts';
import type { ConsentFlow } from './consent/consent-flow.ts';
import { consentPage } from './consent/consent-page.ts';
import type { LoginFlow } from './login/login-flow.ts';
import { loginPage } from './login/login-page.ts';
import { emailCodePage } from './registration/email-code-page.ts';
import { readRegistrationForm, REGISTRATION_FIELDS, type RegistrationFlow } from './registration/registration-flow.ts';
import { registrationPage } from './registration/registration-page.ts';

type Deps = {
  db: Db;
  oidc: Oidc;
  ui: UiFactory;
  citizens: CitizenStore;
  services: ServiceStore;
  login: LoginFlow;
  registration: RegistrationFlow;
  consent: ConsentFlow;
  rateLimiter: RateLimiter;
  emailCode: EmailCodeMethod;
  policy: PasswordPolicy;
  /** Mail queued in a committed transaction: wake the sender. */
  mailQueued: () => void;
};

type Details = Awaited<ReturnType<Oidc['interactionDetails']>>;

/** The service asks to update the citizen's data on their behalf (write-back): the screen says so. */
function asksWriteBack(details: Details): boolean {
  return typeof details.params.scope === 'string' && details.params.scope.split(' ').includes('cidadela:write');
}
type Params = { uid: string };

/**
 * The pages oidc-provider sends a person to: login, registration, e-mail confirmation, consent.
 * Each step reads the interaction from the database, so any server copy can serve any step.
 */
export function registerInteractionRoutes(app: FastifyInstance, deps: Deps) {
  const { oidc, services } = deps;

  async function load(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    let details: Details;
    try {
      details = await oidc.interactionDetails(request.raw, reply.raw);
    } catch (error) {
      // The database out of reach is a 503 to retry, not an expired page.
      if (isUnavailable(error)) throw error;
      const ui = deps.ui(request, reply);
      ui.render(400, ui.t('interaction.expired_title'), html`<p>${ui.t('interaction.expired')}</p>`);
      return undefined;
    }
    if (details.uid !== request.params.uid) {
      const ui = deps.ui(request, reply);
      ui.render(400, ui.t('interaction.expired_title'), html`<p>${ui.t('interaction.expired')}</p>`);
      return undefined;
    }
    const uiLocales = typeof details.params.ui_locales === 'string' ? details.params.ui_locales : undefined;
    const ui = deps.ui(request, reply, uiLocales);
    const service = await services.find(String(details.params.client_id));
    return { details, ui, service };
  }

  async function finish(request: FastifyRequest, reply: FastifyReply, result: Record<string, unknown>) {
    const to = await oidc.interactionResult(request.raw, reply.raw, result);
    return reply.redirect(to, 303);
  }

  async function loginAs(request: FastifyRequest, reply: FastifyReply, accountId: string) {
    return finish(request, reply, {
      login: { accountId, amr: ['pwd'], acr: 'bronze', remember: true },
    });
  }

  app.get<{ Params: Params }>('/interaction/:uid', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    const { details, ui, service } = ctx;
    if (details.prompt.name === 'login') {
      const pending = await deps.emailCode.findForInteraction(details.uid);
      if (pending && pending.state !== 'done') return reply.redirect(`/interaction/${details.uid}/confirm-email`, 303);
      return loginPage(ui, { uid: details.uid, serviceName: service?.name });
    }
    if (details.prompt.name === 'consent' && service && details.session?.accountId) {
      const screen = await deps.consent.screen(details.session.accountId, service.clientId);
      return consentPage(ui, { uid: details.uid, screen, writeBack: asksWriteBack(details) });
    }
    return ui.render(400, ui.t('interaction.expired_title'), html`<p>${ui.t('interaction.expired')}</p>`);
  });

  app.post<{ Params: Params; Body: Record<string, unknown> }>('/interaction/:uid/login', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    const { details, ui, service } = ctx;
    if (details.prompt.name !== 'login') return reply.redirect(`/interaction/${details.uid}`, 303);
    const identifier = typeof request.body?.identifier === 'string' ? request.body.identifier.slice(0, 254) : '';
    const password = typeof request.body?.password === 'string' ? request.body.password.slice(0, 1000) : '';
    const outcome = await deps.login.attempt({ identifier, password, ip: request.ip });
    if (!outcome.ok) {
      const errorParams =
        outcome.code === 'login.throttled' ? { time: formatTime(outcome.retryAt, ui.locale) } : undefined;
      if (outcome.code === 'login.throttled') {
        reply.header('retry-after', String(Math.max(1, Math.ceil((outcome.retryAt.getTime() - Date.now()) / 1000))));
      }
      return loginPage(ui, {
        uid: details.uid,
        serviceName: service?.name,
        identifier,
        error: outcome.code,
        ...(errorParams ? { errorParams } : {}),
      });
    }
    if (!outcome.citizen.emailVerified) {
      // Each new flow has its own tries; capping the flows caps the guesses at someone else's
      // address by whoever registered it.
      const allowed = await deps.rateLimiter.hit(RATE_LIMITS.emailCodesPerCitizen, outcome.citizen.id);
      if (!allowed.allowed) {
        reply.header('retry-after', String(Math.max(1, Math.ceil((allowed.retryAt.getTime() - Date.now()) / 1000))));
        return loginPage(ui, { uid: details.uid, serviceName: service?.name, identifier, error: 'email_code.send_limit', status: 429 });
      }
      await deps.db.transaction().execute((trx) =>
        deps.emailCode.start(trx, {
          citizenId: outcome.citizen.id,
          email: outcome.citizen.email,
          interactionUid: details.uid,
          t: ui.t,
        }),
      );
      deps.mailQueued();
      return reply.redirect(`/interaction/${details.uid}/confirm-email`, 303);
    }
    return loginAs(request, reply, outcome.citizen.id);
  });

  app.get<{ Params: Params }>('/interaction/:uid/register', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    return registrationPage(ctx.ui, { uid: ctx.details.uid, serviceName: ctx.service?.name, ...serviceAsks(ctx.service) });
  });

  /** What the signing-in service requires beyond the core form, so the citizen types it once. */
  function serviceAsks(service: Service | undefined) {
    const required = (service?.fields ?? []).filter((f) => f.required).map((f) => f.key);
    return {
      extraFields: required.filter((k) => !(REGISTRATION_FIELDS as readonly string[]).includes(k)),
      requiredCore: required.filter((k) => (REGISTRATION_FIELDS as readonly string[]).includes(k)),
    };
  }

  app.post<{ Params: Params; Body: Record<string, unknown> }>('/interaction/:uid/register', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    const { details, ui, service } = ctx;
    if (details.prompt.name !== 'login') return reply.redirect(`/interaction/${details.uid}`, 303);
    const form = readRegistrationForm(request.body ?? {});
    const asks = serviceAsks(service);
    const body = request.body ?? {};
    const limited = await deps.rateLimiter.hit(RATE_LIMITS.registration, request.ip);
    if (!limited.allowed) {
      reply.header('retry-after', String(Math.max(1, Math.ceil((limited.retryAt.getTime() - Date.now()) / 1000))));
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

  async function pendingFlow(ui: Ui, uid: string) {
    const flow = await deps.emailCode.findForInteraction(uid);
    if (!flow || flow.state === 'done') return undefined;
    return { id: flow.id, email: String((flow.data as { email?: string }).email ?? '') , ui };
  }

  app.get<{ Params: Params }>('/interaction/:uid/confirm-email', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    const flow = await pendingFlow(ctx.ui, ctx.details.uid);
    if (!flow) return reply.redirect(`/interaction/${ctx.details.uid}`, 303);
    const info = (request.query as Record<string, string>).sent === '1' ? 'email_code.resent' : undefined;
    return emailCodePage(ctx.ui, { uid: ctx.details.uid, email: flow.email, ...(info ? { info } : {}) });
  });

  app.post<{ Params: Params; Body: Record<string, unknown> }>('/interaction/:uid/confirm-email', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    const { details, ui } = ctx;
    const flow = await pendingFlow(ui, details.uid);
    if (!flow) return reply.redirect(`/interaction/${details.uid}`, 303);
    const code = typeof request.body?.code === 'string' ? request.body.code.slice(0, 20) : '';
    const result = await deps.emailCode.verify(flow.id, code);
    if (!result.ok) {
      return emailCodePage(ui, {
        uid: details.uid,
        email: flow.email,
        error: result.code,
        ...(result.code === 'email_code.invalid' ? { errorParams: { tries: result.triesLeft } } : {}),
      });
    }
    return loginAs(request, reply, result.citizenId);
  });

  app.post<{ Params: Params }>('/interaction/:uid/confirm-email/resend', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    const flow = await pendingFlow(ctx.ui, ctx.details.uid);
    if (!flow) return reply.redirect(`/interaction/${ctx.details.uid}`, 303);
    const outcome = await deps.emailCode.resend(flow.id, ctx.ui.t);
    if (outcome === 'sent') {
      deps.mailQueued();
      return reply.redirect(`/interaction/${ctx.details.uid}/confirm-email?sent=1`, 303);
    }
    return emailCodePage(ctx.ui, { uid: ctx.details.uid, email: flow.email, error: outcome });
  });

  app.post<{ Params: Params; Body: Record<string, unknown> }>('/interaction/:uid/consent', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    const { details } = ctx;
    if (details.prompt.name !== 'consent' || !details.session?.accountId) {
      return reply.redirect(`/interaction/${details.uid}`, 303);
    }
    if (request.body?.decision !== 'accept') {
      return finish(request, reply, { error: 'access_denied', error_description: 'the citizen declined' });
    }
    const accountId = details.session.accountId;
    const clientId = String(details.params.client_id);
    const outcome = await deps.consent.accept(accountId, clientId, request.body ?? {}, {
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
      acr: typeof details.session.acr === 'string' ? details.session.acr : null,
      amr: Array.isArray(details.session.amr) ? (details.session.amr as string[]) : null,
    });
    if (!outcome.ok) {
      return consentPage(ctx.ui, { uid: details.uid, screen: outcome.screen, errors: outcome.errors, writeBack: asksWriteBack(details) });
    }
    const { Grant } = oidc;
    const grant = details.grantId
      ? ((await Grant.find(details.grantId)) ?? new Grant({ accountId, clientId }))
      : new Grant({ accountId, clientId });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const scopes = typeof details.params.scope === 'string' ? details.params.scope : 'openid';
    grant.addOIDCScope([...new Set([...scopes.split(' '), ...(missing.missingOIDCScope ?? [])])].join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, resourceScopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, resourceScopes.join(' '));
    }
    const grantId = await grant.save();
    return finish(request, reply, { consent: { grantId } });
  });

  app.post<{ Params: Params }>('/interaction/:uid/abort', async (request, reply) => {
    const ctx = await load(request, reply);
    if (!ctx) return reply;
    return finish(request, reply, { error: 'access_denied', error_description: 'the citizen cancelled' });
  });

  app.post<{ Body: { password?: unknown; context?: unknown } }>(
    '/password-strength',
    { bodyLimit: 4096, config: { csrf: false } },
    async (request, reply) => {
      const limited = await deps.rateLimiter.hit(RATE_LIMITS.passwordStrength, request.ip);
      if (!limited.allowed) return reply.status(429).send({ error: 'rate_limited' });
      const password = typeof request.body?.password === 'string' ? request.body.password : '';
      const context = Array.isArray(request.body?.context) ? request.body.context.filter((v) => typeof v === 'string') : [];
      const [cpf, name, birthdate, email] = context as string[];
      const problem = deps.policy.check(password, { cpf: cpf?.replace(/\D/g, '') ?? null, name: name ?? '', birthdate: birthdate ?? null, email: email ?? '' });
      const score = problem ? Math.min(deps.policy.score(password, {}), 2) : Math.max(3, deps.policy.score(password, {}));
      return { score };
    },
  );
}

function formatTime(date: Date, locale: string): string {
  return new Intl.DateTimeFormat(locale, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZone: 'America/Sao_Paulo',
  }).format(date);
}
