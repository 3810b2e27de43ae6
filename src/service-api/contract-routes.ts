import type { FastifyInstance } from 'fastify';
import { ADMIN_API } from '../admin/admin-api-contract.ts';
import { buildOpenApi } from './openapi.ts';
import { SERVICE_API } from './service-api-contract.ts';

/**
 * Serves the OpenAPI documents: the service API's always, the admin API's when the admin API is
 * on. No authentication: they describe the API, not its data (and are in docs/api/ anyway). No
 * `servers`: a client resolves the paths against the address it fetched the document from.
 */
export function registerContractRoutes(app: FastifyInstance, deps: { adminApi: boolean }) {
  const serviceDocument = JSON.stringify(buildOpenApi(SERVICE_API));
  app.get('/api/v1/openapi.json', async (_request, reply) =>
    reply.type('application/json').header('cache-control', 'public, max-age=300').send(serviceDocument),
  );
  if (!deps.adminApi) return;
  const adminDocument = JSON.stringify(buildOpenApi(ADMIN_API));
  app.get('/admin/api/openapi.json', async (_request, reply) =>
    reply.type('application/json').header('cache-control', 'public, max-age=300').send(adminDocument),
  );
}
