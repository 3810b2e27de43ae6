import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Citizen } from '../../identity/citizen-store.ts';
import type { InteractionContext, InteractionKit, InteractionParams } from '../../flows/interaction-kit.ts';
import { retryAfter } from '../../flows/interaction-kit.ts';
import { loginPage } from '../../flows/login/login-page.ts';
import { formatClock } from '../../platform/i18n.ts';
import { RATE_LIMITS, type RateLimiter } from '../../platform/rate-limit.ts';
import { phoneCountry } from '../../identity/phone.ts';
import { passwordMethod } from './password-method.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { PasswordSignIn } from './password-sign-in.ts';

type Deps = {
  kit: InteractionKit;
  signIn: PasswordSignIn;
  policy: PasswordPolicy;
  rateLimiter: RateLimiter;
  /** The login flow's next step once the citizen has proven something (confirmation, or done). */
  continueSignIn(request: FastifyRequest, reply: FastifyReply, ctx: InteractionContext, citizen: Citizen, identifier: string): Promise<unknown>;
};

/** The password's routes: the login form's submission and the strength hint the registration form asks. */
export function registerPasswordRoutes(app: FastifyInstance, deps: Deps) {
  const { kit } = deps;

  app.post<{ Params: InteractionParams; Body: Record<string, unknown> }>('/interaction/:uid/login', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details, ui, service } = ctx;
    if (details.prompt.name !== 'login') return reply.redirect(`/interaction/${details.uid}`, 303);
    const identifier = typeof request.body?.identifier === 'string' ? request.body.identifier.slice(0, 254) : '';
    const password = typeof request.body?.password === 'string' ? request.body.password.slice(0, 1000) : '';
    // A number typed in its national form is read as one of the country chosen (Brazil by default).
    const country = (service?.acceptsForeigners && typeof request.body?.country === 'string' && phoneCountry(request.body.country)) || 'BR';
    const outcome = await deps.signIn.attempt({ identifier, password, ip: request.ip, country });
    if (!outcome.ok) {
      if (outcome.code === 'login.throttled') retryAfter(reply, outcome.retryAt);
      if (outcome.accountId) {
        // Written after the answer: a refusal must take the same time whether or not the
        // identifier is someone's (decision 6), and only someone's has a record to write to.
        const event = {
          citizenId: outcome.accountId,
          kind: 'sign_in' as const,
          result: outcome.code === 'login.throttled' ? 'throttled' : 'failure',
          method: passwordMethod.id,
          clientId: service?.clientId ?? null,
          ip: request.ip,
          userAgent: request.headers['user-agent'] ?? null,
        };
        setImmediate(() => {
          kit.securityEvents.record(event).catch((error) => request.log.warn({ err: { message: (error as Error).message } }, 'security event not recorded'));
        });
      }
      return loginPage(ui, {
        uid: details.uid,
        serviceName: service?.name,
        certificate: kit.certificateLogin,
        identifier,
        foreigners: service?.acceptsForeigners ?? false,
        country,
        error: outcome.code,
        ...(outcome.code === 'login.throttled' ? { errorParams: { time: formatClock(outcome.retryAt, ui.locale) } } : {}),
      });
    }
    await kit.verifications.record({ interactionUid: details.uid, citizenId: outcome.citizen.id, method: passwordMethod });
    return deps.continueSignIn(request, reply, ctx, outcome.citizen, identifier);
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
