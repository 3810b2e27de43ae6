import type { FastifyInstance } from 'fastify';
import type { Oidc } from '../../oidc/provider.ts';
import type { InteractionDetails, InteractionKit, InteractionParams } from '../interaction-kit.ts';
import type { ConsentFlow } from './consent-flow.ts';
import { consentPage } from './consent-page.ts';

/** The service asks to update the citizen's data on their behalf (write-back): the screen says so. */
export function asksWriteBack(details: InteractionDetails): boolean {
  return typeof details.params.scope === 'string' && details.params.scope.split(' ').includes('cidadela:write');
}

/** The authorization request of an interaction, as the service sent it, to be made again. */
export function restartUrl(params: Record<string, unknown>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (typeof value === 'string') query.set(key, value);
  return `/oidc/auth?${query}`;
}

/** The consent screen's answer: the data typed, the consent record, then the provider's grant. */
export function registerConsentRoutes(app: FastifyInstance, deps: { kit: InteractionKit; oidc: Oidc; consent: ConsentFlow }) {
  const { kit, oidc } = deps;

  // "Não é você?": whoever is at this browser is not the citizen signed in. Their session ends and
  // the service's own request starts again, unchanged, so it is the login page that comes next.
  app.post<{ Params: InteractionParams }>('/interaction/:uid/switch-account', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details } = ctx;
    if (details.prompt.name !== 'consent' || !details.session?.accountId) return reply.redirect(`/interaction/${details.uid}`, 303);
    await oidc.endSession(request.raw, reply.raw);
    return reply.redirect(restartUrl(details.params), 303);
  });

  app.post<{ Params: InteractionParams; Body: Record<string, unknown> }>('/interaction/:uid/consent', async (request, reply) => {
    const ctx = await kit.load(request, reply);
    if (!ctx) return reply;
    const { details } = ctx;
    if (details.prompt.name !== 'consent' || !details.session?.accountId) {
      return reply.redirect(`/interaction/${details.uid}`, 303);
    }
    if (request.body?.decision !== 'accept') {
      return kit.finish(request, reply, { error: 'access_denied', error_description: 'the citizen declined' });
    }
    const accountId = details.session.accountId;
    const clientId = String(details.params.client_id);
    const outcome = await deps.consent.accept(accountId, clientId, request.body ?? {}, {
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
      acr: typeof details.session.acr === 'string' ? details.session.acr : null,
      amr: Array.isArray(details.session.amr) ? (details.session.amr as string[]) : null,
    }, asksWriteBack(details));
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
    return kit.finish(request, reply, { consent: { grantId } });
  });
}
