import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../platform/metrics.ts';

/** For load balancers and the operator on call: liveness, readiness (database answers), metrics. */
export function registerOpsRoutes(app: FastifyInstance, deps: { metrics: Metrics; ping: () => Promise<void>; draining: () => boolean }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (deps.draining()) return reply.status(503).header('retry-after', '5').send({ status: 'draining' });
    try {
      await Promise.race([
        deps.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('database timeout')), 2000).unref()),
      ]);
      return { status: 'ready', database: 'ok' };
    } catch {
      return reply.status(503).header('retry-after', '5').send({ status: 'unavailable', database: 'unreachable' });
    }
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
