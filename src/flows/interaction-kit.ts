import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { type Citizen, type CitizenStore, contactProven, isForeign } from '../identity/citizen-store.ts';
import { isLocale, type Locale, type Translate } from '../platform/i18n.ts';
import { below, deriveSignIn, requiredLevel, secondStepNeeded, secondStepProven } from '../methods/assurance.ts';
import { secondFactorsOf } from './second-step/factor-changes.ts';
import { stepUpPage } from './login/step-up-page.ts';
import type { VerificationStore } from '../methods/verifications.ts';
import type { SecurityEvents } from '../identity/security-events.ts';
import type { Oidc } from '../oidc/provider.ts';
import { isUnavailable } from '../platform/errors.ts';
import type { Service, ServiceStore } from '../services/service-store.ts';
import { html } from '../web/html.ts';
import { wayBack } from '../web/layout.ts';
import type { Ui, UiFactory } from '../web/request-context.ts';

export type InteractionDetails = Awaited<ReturnType<Oidc['interactionDetails']>>;

/** What every interaction page has: the provider's interaction, the page's language, the service. */
export type InteractionContext = { details: InteractionDetails; ui: Ui; service: Service | undefined };

export type InteractionParams = { uid: string };

const FROM_COOKIE = 'cdl_from';

/**
 * Where a person goes back to a service: the address it lists on the home page, or the site of its
 * (web) redirect URI. None for an app, whose redirect a browser cannot open on its own.
 */
export function serviceAddress(service: Pick<Service, 'homeUrl' | 'redirectUris' | 'type'>): string | undefined {
  if (service.homeUrl) return service.homeUrl;
  if (service.type === 'native') return undefined;
  const first = service.redirectUris[0];
  try {
    const url = first ? new URL(first) : undefined;
    return url && (url.protocol === 'https:' || url.protocol === 'http:') ? `${url.origin}/` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the flows and methods share to serve the pages oidc-provider sends a person to: load the
 * interaction (from the database, so any server copy serves any step), render, finish it, and
 * complete a sign-in from the verifications recorded for it.
 */
export function createInteractionKit(deps: {
  db: Db;
  oidc: Oidc;
  ui: UiFactory;
  services: ServiceStore;
  /**
   * The service of an interaction page, through the same short cache as the provider's own
   * lookups (SERVICE_CACHE_MS): its name, level and the fields registration asks for. The consent
   * page reads the service afresh (consent-flow.ts). Default: `services.find`.
   */
  cachedService?: (clientId: string) => Promise<Service | undefined>;
  citizens: CitizenStore;
  verifications: VerificationStore;
  /** The citizen's security record: every completed sign-in is written to it. */
  securityEvents: SecurityEvents;
  /** Whether the login page offers the certificate (configured and listening somewhere). */
  certificateLogin?: boolean;
  /** Pages about an account speak its language (a refusal, before any cookie says it). */
  translator: (locale: Locale) => Translate;
}) {
  const { oidc, services, verifications } = deps;
  const findService = deps.cachedService ?? ((clientId: string) => services.find(clientId));

  function expired(ui: Ui, service?: Service) {
    const back = service ? serviceAddress(service) : undefined;
    return ui.render(
      400,
      ui.t('interaction.expired_title'),
      html`<p>${back ? ui.t('interaction.expired_service', { service: service!.name }) : ui.t('interaction.expired')}</p>${wayBack(ui.t, back ? { name: service!.name, url: back } : undefined)}`,
    );
  }

  /** An expired page without its interaction: the service this browser came from last, if any. */
  async function expiredFrom(request: FastifyRequest, reply: FastifyReply) {
    const from = request.cookies[FROM_COOKIE];
    const service = from ? await services.find(from).catch(() => undefined) : undefined;
    return expired(deps.ui(request, reply), service);
  }

  /** The interaction of this browser, or undefined after an "expired" page has been sent. */
  async function load(request: FastifyRequest<{ Params: InteractionParams }>, reply: FastifyReply): Promise<InteractionContext | undefined> {
    let details: InteractionDetails;
    try {
      details = await oidc.interactionDetails(request.raw, reply.raw);
    } catch (error) {
      // The database out of reach is a 503 to retry, not an expired page.
      if (isUnavailable(error)) throw error;
      await expiredFrom(request, reply);
      return undefined;
    }
    if (details.uid !== request.params.uid) {
      await expiredFrom(request, reply);
      return undefined;
    }
    const uiLocales = typeof details.params.ui_locales === 'string' ? details.params.ui_locales : undefined;
    const ui = deps.ui(request, reply, uiLocales);
    const service = await findService(String(details.params.client_id));
    // Remembered for a day: if this sign-in expires, its page can lead back to the service.
    if (service && request.cookies[FROM_COOKIE] !== service.clientId) {
      reply.setCookie(FROM_COOKIE, service.clientId, { path: '/interaction', httpOnly: true, sameSite: 'lax', secure: request.protocol === 'https', maxAge: 24 * 3600 });
    }
    return { details, ui, service };
  }

  async function finish(request: FastifyRequest, reply: FastifyReply, result: Record<string, unknown>) {
    const to = await oidc.interactionResult(request.raw, reply.raw, result);
    return reply.redirect(to, 303);
  }

  /**
   * Ends the login prompt with what the verifications of this interaction prove: the account, amr,
   * acr and auth_time all come from them, never from the route that happens to finish.
   */
  async function completeLogin(request: FastifyRequest, reply: FastifyReply, ctx: InteractionContext) {
    const proofs = await verifications.forInteraction(ctx.details.uid);
    const who = deriveSignIn(proofs);
    if (!who.ok) return expired(ctx.ui, ctx.service);
    const citizen = await deps.citizens.findById(who.result.citizenId);
    // An account disabled meanwhile, or whose address was never proven, does not sign in.
    if (!citizen || citizen.status !== 'active' || !contactProven(citizen)) return expired(ctx.ui, ctx.service);
    const refused = refusal(ctx, citizen);
    if (refused) return refused;
    // The level reached is capped by what the account itself is known to be.
    const derived = deriveSignIn(proofs, citizen.trustLevel);
    if (!derived.ok) return expired(ctx.ui, ctx.service);
    // Below what the service (or this request's acr_values) needs: offer the step-up, keep what
    // was proven so far; a certificate proof added to it completes the sign-in at the level asked.
    const required = requiredLevel(ctx.service?.minTrustLevel ?? 'bronze', ctx.details.params.acr_values);
    if (below(derived.result.acr, required)) {
      return stepUpPage(ctx.ui, { uid: ctx.details.uid, serviceName: ctx.service?.name, required, certificate: deps.certificateLogin ?? false });
    }
    // The second step: asked of every citizen who registered a factor, and of everyone at a service
    // that requires it (a citizen without a factor is offered to add one there). A code by e-mail or
    // SMS (recovery) is not a second step.
    const next = secondStepNeeded({
      hasFactor: (await secondFactorsOf(deps.db, citizen.id)).length > 0,
      serviceRequires: ctx.service?.requireSecondFactor ?? false,
      proven: secondStepProven(proofs),
    });
    if (next === 'ask') return reply.redirect(`/interaction/${ctx.details.uid}/segundo-passo`, 303);
    if (next === 'enrol') return reply.redirect(`/interaction/${ctx.details.uid}/segundo-passo/cadastrar`, 303);
    await verifications.consume(ctx.details.uid);
    const { citizenId, amr, acr, authTime } = derived.result;
    const methods = [...new Set(proofs.filter((p) => p.purpose === 'authentication').map((p) => p.method))];
    await deps.securityEvents.record({
      citizenId,
      kind: 'sign_in',
      method: methods.join('+'),
      clientId: ctx.service?.clientId ?? null,
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
    });
    return finish(request, reply, { login: { accountId: citizenId, amr, acr, ts: authTime, remember: true } });
  }

  /**
   * The page a foreign account gets at a service that does not accept foreigners, in its language;
   * its one button sends the service `access_denied`. Undefined where the account may go on.
   */
  function refusal(ctx: InteractionContext, citizen: Citizen) {
    const { service, details } = ctx;
    if (!service || service.firstParty || service.acceptsForeigners || !isForeign(citizen)) return undefined;
    const t = isLocale(citizen.locale) ? deps.translator(citizen.locale) : ctx.ui.t;
    return ctx.ui.render(
      403,
      t('foreign.refused_title'),
      html`<p>${t('foreign.refused', { service: service.name })}</p>
<p>${t('foreign.refused_help')}</p>
<form method="post" action="/interaction/${details.uid}/abort">
  <input type="hidden" name="_csrf" value="${ctx.ui.csrf()}">
  <input type="hidden" name="reason" value="foreigners">
  <button type="submit">${t('foreign.refused_back', { service: service.name })}</button>
</form>`,
    );
  }

  async function refusedHere(ctx: InteractionContext, citizenId: string) {
    const citizen = await deps.citizens.findById(citizenId);
    return citizen ? refusal(ctx, citizen) : undefined;
  }

  /**
   * The language a mail or SMS to this citizen is written in: their preferred one, the page's when
   * they have none (issue 12: every message in the citizen's language, whatever page sent it).
   */
  async function messagesFor(ui: Ui, citizenId: string | null | undefined): Promise<Translate> {
    const citizen = citizenId ? await deps.citizens.findById(citizenId) : undefined;
    return isLocale(citizen?.locale) ? deps.translator(citizen.locale) : ui.t;
  }

  /** A transaction for a step's writes (inside it, use only `trx`: PGlite has one connection). */
  const transaction = <T>(fn: (trx: Db) => Promise<T>) => deps.db.transaction().execute(fn);

  return { db: deps.db, load, finish, expired, completeLogin, refusedHere, messagesFor, verifications, securityEvents: deps.securityEvents, transaction, certificateLogin: deps.certificateLogin ?? false };
}

export type InteractionKit = ReturnType<typeof createInteractionKit>;

/** Seconds until `date`, at least 1, for Retry-After. */
export function retryAfter(reply: FastifyReply, date: Date): void {
  reply.header('retry-after', String(Math.max(1, Math.ceil((date.getTime() - Date.now()) / 1000))));
}
