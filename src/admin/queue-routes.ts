import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { brokerInstructions, provisionBrokerAccount, vhostOf } from '../events/broker-accounts.ts';
import type { StreamStore } from '../events/stream-store.ts';
import { AppError } from '../platform/errors.ts';
import { requireAdminToken } from './admin-auth.ts';

type Params = { Params: { id: string } };

/** The body of a replay: from when (an ISO 8601 date-time with its offset). */
export const replayRequestSchema = z.strictObject({
  since: z.iso.datetime({ offset: true }).describe('deliver again everything made since this time'),
});

/** Bodies of the queue routes are small (a method and a URL, a date). */
export const QUEUE_BODY_LIMIT = 16 * 1024;

/**
 * The operator's view of each service's event queue (admin API, same bearer token as the rest of
 * it): depth, age of the oldest undelivered event, failures, pause; resume, replay, the delivery
 * method, and the service's own broker credentials.
 */
export function registerQueueRoutes(
  app: FastifyInstance,
  deps: {
    adminToken: string | undefined;
    streams: StreamStore;
    amqpUrl: string | undefined;
    amqpManagementUrl: string | undefined;
  },
) {
  const token = deps.adminToken;
  if (!token) return;
  const { streams } = deps;

  app.register(async (admin) => {
    admin.addHook('onRequest', requireAdminToken(token));
    const json = { config: { csrf: false }, bodyLimit: QUEUE_BODY_LIMIT };

    admin.get<Params>('/admin/api/services/:id/queue', async (request) => ({
      queue: await streams.view(request.params.id),
    }));

    admin.post<Params>('/admin/api/services/:id/queue/resume', json, async (request) => {
      const resumed = await streams.resume(request.params.id);
      return { resumed, queue: await streams.view(request.params.id) };
    });

    admin.post<Params>('/admin/api/services/:id/queue/replay', json, async (request) => {
      const parsed = replayRequestSchema.safeParse(request.body ?? {});
      if (!parsed.success) throw new AppError('replay.invalid_since', 400);
      const replayed = await streams.replay(request.params.id, new Date(parsed.data.since));
      return { replayed, queue: await streams.view(request.params.id) };
    });

    admin.get<Params>('/admin/api/services/:id/delivery', async (request) => {
      await streams.view(request.params.id);
      return { delivery: await streams.settings(request.params.id) };
    });

    admin.put<Params>('/admin/api/services/:id/delivery', json, async (request) => {
      const { queues, ...delivery } = await streams.setDelivery(request.params.id, request.body ?? {});
      return { delivery, queues };
    });

    admin.post<Params>('/admin/api/services/:id/broker-credentials', json, async (request, reply) => {
      const clientId = request.params.id;
      await streams.view(clientId);
      if (!deps.amqpManagementUrl) {
        return reply.status(409).send({
          error: 'broker.management_not_configured',
          instructions: brokerInstructions(clientId, vhostOf(deps.amqpUrl)),
        });
      }
      const account = await provisionBrokerAccount({
        managementUrl: deps.amqpManagementUrl,
        amqpUrl: deps.amqpUrl,
        clientId,
      });
      return reply.status(201).send({ account });
    });
  });
}
