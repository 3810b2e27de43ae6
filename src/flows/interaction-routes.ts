import type { FastifyInstance } from 'fastify';
import type { CertificateLogin } from '../methods/certificate/certificate-routes.ts';
import type { CodeMechanism } from '../methods/code/code-mechanism.ts';
import type { PasskeyCeremonies } from '../methods/passkey/passkey-ceremonies.ts';
import type { PasswordPolicy } from '../methods/password/password-policy.ts';
import type { PasswordSignIn } from '../methods/password/password-sign-in.ts';
import { SIGN_IN_METHODS } from '../methods/registry.ts';
import type { Oidc } from '../oidc/provider.ts';
import type { RateLimiter } from '../platform/rate-limit.ts';
import type { ConsentFlow } from './consent/consent-flow.ts';
import { consentPage } from './consent/consent-page.ts';
import { asksWriteBack, registerConsentRoutes } from './consent/consent-routes.ts';
import type { InteractionKit, InteractionParams } from './interaction-kit.ts';
import { createLoginFlow } from './login/login-routes.ts';
import { loginPage } from './login/login-page.ts';
import { registerEmailConfirmationRoutes } from './registration/email-confirmation-routes.ts';
import type { RegistrationFlow } from './registration/registration-flow.ts';
import type { ForeignRegistrationFlow } from './registration/foreign-registration-flow.ts';
import { registerForeignRegistrationRoutes } from './registration/foreign-registration-routes.ts';
import { registerRegistrationRoutes } from './registration/registration-routes.ts';
import { registerSecondStepRoutes, type SecondStepDeps } from './second-step/second-step-routes.ts';

type Deps = {
  kit: InteractionKit;
  oidc: Oidc;
  codes: CodeMechanism;
  registration: RegistrationFlow;
  foreign: ForeignRegistrationFlow;
  consent: ConsentFlow;
  rateLimiter: RateLimiter;
  passwordSignIn: PasswordSignIn;
  passwordPolicy: PasswordPolicy;
  certificate?: CertificateLogin | undefined;
  /** Mail queued in a committed transaction: wake the sender. */
  mailQueued: () => void;
  /** The second step (authenticator, passkey, certificate) and its enrolment at a service requiring it. */
  secondStep: Omit<SecondStepDeps, 'kit' | 'mailQueued'>;
  passkeys: PasskeyCeremonies;
};

/**
 * The pages oidc-provider sends a person to, as a list: where an interaction goes first, then each
 * flow's routes, then each sign-in method's (from the registry).
 */
export function registerInteractionRoutes(app: FastifyInstance, deps: Deps) {
  const { kit, codes } = deps;
  const login = createLoginFlow({ kit, codes, mailQueued: deps.mailQueued });

  // Where an interaction lands: the login page (or the e-mail confirmation it is waiting on), or
  // the consent screen.
  app.get<{ Params: InteractionParams }>('/interaction/:uid', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details, ui, service } = ctx;
    if (details.prompt.name === 'login') {
      const pending = await codes.pending({ purpose: 'email_confirmation', interactionUid: details.uid });
      if (pending) return reply.redirect(`/interaction/${details.uid}/confirm-email`, 303);
      return loginPage(ui, { uid: details.uid, serviceName: service?.name, certificate: kit.certificateLogin, foreigners: service?.acceptsForeigners ?? false });
    }
    if (details.prompt.name === 'consent' && service && details.session?.accountId) {
      // A foreign account already signed in, at a service that does not accept foreigners.
      const refused = await kit.refusedHere(ctx, details.session.accountId);
      if (refused) return refused;
      const screen = await deps.consent.screen(details.session.accountId, service.clientId);
      return consentPage(ui, { uid: details.uid, screen, writeBack: asksWriteBack(details) });
    }
    return kit.expired(ui);
  });

  // Where a method that runs elsewhere (the certificate's own TLS listener) sends the browser back:
  // its proof is already recorded for this interaction, server-side; this browser's interaction
  // cookie says which interaction it is. Nothing recorded, nothing completes.
  app.get<{ Params: InteractionParams }>('/interaction/:uid/complete', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    if (ctx.details.prompt.name !== 'login') return reply.redirect(`/interaction/${ctx.details.uid}`, 303);
    return kit.completeLogin(request, reply, ctx);
  });

  app.post<{ Params: InteractionParams }>('/interaction/:uid/abort', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    // The one other way out: the refusal page of a service that does not accept foreigners.
    const foreign = (request.body as Record<string, unknown> | undefined)?.reason === 'foreigners';
    return kit.finish(request, reply, {
      error: 'access_denied',
      error_description: foreign ? 'this service does not accept accounts without a CPF' : 'the citizen cancelled',
    });
  });

  registerRegistrationRoutes(app, { kit, registration: deps.registration, rateLimiter: deps.rateLimiter, mailQueued: deps.mailQueued, certificates: deps.certificate?.signIn });
  registerEmailConfirmationRoutes(app, { kit, codes, mailQueued: deps.mailQueued });
  registerForeignRegistrationRoutes(app, { kit, foreign: deps.foreign, codes, rateLimiter: deps.rateLimiter, messageQueued: deps.mailQueued });
  registerConsentRoutes(app, { kit, oidc: deps.oidc, consent: deps.consent });
  registerSecondStepRoutes(app, { ...deps.secondStep, kit, mailQueued: deps.mailQueued });

  const methodDeps = {
    kit,
    codes,
    rateLimiter: deps.rateLimiter,
    passwordSignIn: deps.passwordSignIn,
    passwordPolicy: deps.passwordPolicy,
    certificate: deps.certificate,
    passkeys: deps.passkeys,
    continueSignIn: login.continueSignIn,
  };
  for (const entry of SIGN_IN_METHODS) entry.registerRoutes?.(app, methodDeps);
}
