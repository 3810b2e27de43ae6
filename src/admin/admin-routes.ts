import type { FastifyInstance } from 'fastify';
import { AppError } from '../platform/errors.ts';
import { requireAdminToken } from './admin-auth.ts';
import { ACCOUNT_CLIENT_ID } from '../account/account-services.ts';
import type { Service, ServiceStore } from '../services/service-store.ts';

/**
 * The account pages' own service is set by the server at every start (first party: it skips consent
 * and is trusted with the citizen's name and e-mail). Through this API its redirect URIs could be
 * pointed elsewhere or its secret taken, so it can be read here, never changed.
 */
function refuseBuiltIn(clientId: string): void {
  if (clientId === ACCOUNT_CLIENT_ID) throw new AppError('service.built_in', 403);
}

export function serviceJson(s: Service) {
  return {
    clientId: s.clientId,
    name: s.name,
    description: s.description,
    type: s.type,
    redirectUris: s.redirectUris,
    postLogoutRedirectUris: s.postLogoutRedirectUris,
    backchannelLogoutUri: s.backchannelLogoutUri,
    tokenEndpointAuthMethod: s.tokenEndpointAuthMethod,
    jwks: s.jwks,
    allowedOrigins: s.allowedOrigins,
    dpopBoundAccessTokens: s.dpopBoundAccessTokens,
    termsMarkdown: s.termsMarkdown,
    terms: s.terms ? { version: s.terms.version, sha256: s.terms.sha256, publishedAt: s.terms.publishedAt } : null,
    fields: s.fields,
    firstParty: s.firstParty,
    minTrustLevel: s.minTrustLevel,
    acceptsForeigners: s.acceptsForeigners,
    requireSecondFactor: s.requireSecondFactor,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** Service bodies carry terms of use (up to 100,000 characters) and keys. */
export const ADMIN_BODY_LIMIT = 256 * 1024;

/** The operator's JSON API, behind `Authorization: Bearer $ADMIN_TOKEN`. Off when no token is set. */
export function registerAdminRoutes(app: FastifyInstance, deps: { adminToken: string | undefined; services: ServiceStore }) {
  const { services } = deps;
  const token = deps.adminToken;
  if (!token) return;

  app.register(async (admin) => {
    admin.addHook('onRequest', requireAdminToken(token));
    const json = { config: { csrf: false }, bodyLimit: ADMIN_BODY_LIMIT };

    admin.get('/admin/api/services', async () => ({ services: (await services.list()).map(serviceJson) }));

    admin.post('/admin/api/services', json, async (request, reply) => {
      const { service, clientSecret } = await services.add(request.body ?? {});
      return reply.status(201).send({ service: serviceJson(service), clientSecret });
    });

    admin.get<{ Params: { id: string } }>('/admin/api/services/:id', async (request) => {
      const service = await services.find(request.params.id);
      if (!service) throw new AppError('service.not_found', 404);
      return { service: serviceJson(service) };
    });

    admin.patch<{ Params: { id: string } }>('/admin/api/services/:id', json, async (request) => {
      refuseBuiltIn(request.params.id);
      return { service: serviceJson(await services.update(request.params.id, request.body ?? {})) };
    });

    admin.get<{ Params: { id: string } }>('/admin/api/services/:id/terms', async (request) => {
      if (!(await services.find(request.params.id))) throw new AppError('service.not_found', 404);
      return { versions: await services.termsHistory(request.params.id) };
    });

    admin.post<{ Params: { id: string } }>('/admin/api/services/:id/rotate-secret', json, async (request) => {
      refuseBuiltIn(request.params.id);
      return { clientSecret: await services.rotateSecret(request.params.id) };
    });

    admin.delete<{ Params: { id: string } }>('/admin/api/services/:id', json, async (request, reply) => {
      refuseBuiltIn(request.params.id);
      await services.remove(request.params.id);
      return reply.status(204).send();
    });
  });
}
