import type { FastifyInstance } from 'fastify';
import { classifyError } from './server.ts';

/**
 * A surface is a part of the site with its own audience and error format: the public pages
 * (people, errors as pages — the server's default), and the JSON APIs for operators and services.
 * Each API surface is an encapsulated Fastify context with its own error handler, so a route never
 * has to guess from its URL how to answer; `prefix` only says where its 404s are JSON.
 */
export type ApiSurface = { name: 'operator-api' | 'service-api'; prefix: string };

export const OPERATOR_API: ApiSurface = { name: 'operator-api', prefix: '/admin/api' };
export const SERVICE_API: ApiSurface = { name: 'service-api', prefix: '/api' };

export async function registerApiSurface(
  app: FastifyInstance,
  surface: ApiSurface,
  routes: (scope: FastifyInstance) => void | Promise<void>,
): Promise<void> {
  await app.register(async (scope) => {
    scope.setErrorHandler(async (error, request, reply) => {
      const { status, code, details } = classifyError(error, request, reply);
      return reply.status(status).send({ error: code, ...details });
    });
    await routes(scope);
  });
  await app.register(
    async (scope) => {
      scope.setNotFoundHandler(async (_request, reply) => reply.status(404).send({ error: 'not_found' }));
    },
    { prefix: surface.prefix },
  );
}
