import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import { AppError } from '../platform/errors.ts';
import { notifyOnCommit, POLL_CHANNEL, RELAY_CHANNEL } from './outbox.ts';

export type DeliveryMethod = 'poll' | 'amqp' | 'push';

export type StreamSettings = { method: DeliveryMethod; pushUrl: string | null };

/** A service's RabbitMQ queues after its delivery was set to AMQP; `declared`: false when no AMQP_URL is set. */
export type AmqpQueues = { queue: string; deadLetterQueue: string; declared: boolean };

export type QueueView = {
  clientId: string;
  method: DeliveryMethod;
  pushUrl: string | null;
  /** RabbitMQ queue the relay publishes to (amqp only). */
  amqpQueue: string | null;
  depth: number;
  oldestPendingAt: Date | null;
  oldestPendingAgeSeconds: number | null;
  lastDeliveryAt: Date | null;
  failedDeliveries: number;
  consecutiveFailures: number;
  lastError: string | null;
  paused: boolean;
  pausedAt: Date | null;
  nextAttemptAt: Date | null;
};

export function amqpQueueName(clientId: string): string {
  return `cidadela.${clientId}`;
}

export function deadLetterQueueName(clientId: string): string {
  return `${amqpQueueName(clientId)}.dlq`;
}

const pushUrl = z
  .string()
  .max(2000)
  .refine((value) => {
    const u = URL.parse(value);
    if (!u || u.hash || u.username || u.password) return false;
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
    return u.protocol === 'https:' || (u.protocol === 'http:' && loopback);
  }, 'must be an https URL (http only on loopback) without credentials or fragment');

export const deliverySettingsSchema = z
  .object({
    method: z
      .enum(['poll', 'amqp', 'push'])
      .describe('poll: the service polls /api/v1/events; amqp: its RabbitMQ queue; push: Cidadela POSTs each SET to pushUrl'),
    pushUrl: pushUrl
      .nullable()
      .optional()
      .describe('push only: an https URL (http only on loopback), without credentials or fragment'),
  })
  .strict()
  .refine((s) => s.method !== 'push' || s.pushUrl, { message: 'push needs pushUrl', path: ['pushUrl'] });

/**
 * Per service: how it receives its events, and what an operator sees and does about its queue.
 * `amqpQueues` declares a service's broker queues (absent when no broker is configured).
 */
export function createStreamStore(db: Db, opts: { amqpQueues?: ((clientId: string) => Promise<void>) | undefined } = {}) {
  async function requireService(clientId: string): Promise<void> {
    const row = await db
      .selectFrom('services')
      .select('client_id')
      .where('client_id', '=', clientId)
      .executeTakeFirst();
    if (!row) throw new AppError('service.not_found', 404);
  }

  return {
    async settings(clientId: string): Promise<StreamSettings> {
      const row = await db
        .selectFrom('event_streams')
        .select(['method', 'push_url'])
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      return { method: row?.method ?? 'poll', pushUrl: row?.push_url ?? null };
    },

    /**
     * Sets how the service receives its events. AMQP: its queue and dead-letter queue are declared
     * first, so its consumer (whose broker user may only read) can start before the first event;
     * a broker that cannot be reached leaves everything as it was (503).
     */
    async setDelivery(
      clientId: string,
      input: unknown,
    ): Promise<StreamSettings & { queues: AmqpQueues | null }> {
      const parsed = deliverySettingsSchema.safeParse(input);
      if (!parsed.success) {
        const details = parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
        throw new AppError('service.invalid', 400, { details });
      }
      await requireService(clientId);
      const { method } = parsed.data;
      const url = method === 'push' ? (parsed.data.pushUrl ?? null) : null;
      let queues: AmqpQueues | null = null;
      if (method === 'amqp') {
        if (opts.amqpQueues) await opts.amqpQueues(clientId);
        queues = {
          queue: amqpQueueName(clientId),
          deadLetterQueue: deadLetterQueueName(clientId),
          declared: Boolean(opts.amqpQueues),
        };
      }
      await db
        .insertInto('event_streams')
        .values({ client_id: clientId, method, push_url: url, last_error: null })
        .onConflict((oc) =>
          oc.column('client_id').doUpdateSet({
            method,
            push_url: url,
            // A new transport starts with a clean slate.
            paused_at: null,
            consecutive_failures: 0,
            next_attempt_at: sql<Date>`now()`,
            last_error: null,
            updated_at: sql<Date>`now()`,
          }),
        )
        .execute();
      await notifyOnCommit(db, RELAY_CHANNEL);
      return { method, pushUrl: url, queues };
    },

    async view(clientId: string): Promise<QueueView> {
      await requireService(clientId);
      const stream = await db
        .selectFrom('event_streams')
        .selectAll()
        .where('client_id', '=', clientId)
        .executeTakeFirst();
      const counts = await db
        .selectFrom('event_deliveries')
        .select([
          sql<string>`count(*) filter (where status = 'pending')`.as('depth'),
          sql<string>`count(*) filter (where status = 'failed')`.as('failed'),
          sql<Date | null>`min(created_at) filter (where status = 'pending')`.as('oldest'),
          sql<Date | null>`max(sent_at)`.as('last_sent'),
          sql<Date>`now()`.as('now'),
        ])
        .where('client_id', '=', clientId)
        .executeTakeFirstOrThrow();
      const method = stream?.method ?? 'poll';
      const oldest = counts.oldest ? new Date(counts.oldest) : null;
      const lastDelivery = stream?.last_delivery_at ?? (counts.last_sent ? new Date(counts.last_sent) : null);
      return {
        clientId,
        method,
        pushUrl: stream?.push_url ?? null,
        amqpQueue: method === 'amqp' ? amqpQueueName(clientId) : null,
        depth: Number(counts.depth),
        oldestPendingAt: oldest,
        oldestPendingAgeSeconds: oldest
          ? Math.max(0, Math.round((new Date(counts.now).getTime() - oldest.getTime()) / 1000))
          : null,
        lastDeliveryAt: lastDelivery,
        failedDeliveries: Number(counts.failed),
        consecutiveFailures: stream?.consecutive_failures ?? 0,
        lastError: stream?.last_error ?? null,
        paused: Boolean(stream?.paused_at),
        pausedAt: stream?.paused_at ?? null,
        nextAttemptAt: stream?.next_attempt_at ?? null,
      };
    },

    /** Resumes a paused stream: the relay tries again at once, from the oldest pending delivery. */
    async resume(clientId: string): Promise<boolean> {
      await requireService(clientId);
      const result = await db
        .updateTable('event_streams')
        .set({
          paused_at: null,
          consecutive_failures: 0,
          next_attempt_at: sql<Date>`now()`,
          updated_at: sql<Date>`now()`,
        })
        .where('client_id', '=', clientId)
        .where('paused_at', 'is not', null)
        .executeTakeFirst();
      const resumed = Number(result.numUpdatedRows) > 0;
      if (resumed) await notifyOnCommit(db, RELAY_CHANNEL);
      return resumed;
    },

    /**
     * Delivers again, in their original order and with their original jti, every delivery of the
     * service made since `since` (purged citizens' claim changes excepted). Returns how many.
     */
    async replay(clientId: string, since: Date): Promise<number> {
      if (Number.isNaN(since.getTime())) throw new AppError('replay.invalid_since', 400);
      await requireService(clientId);
      return db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('event_deliveries')
          .set({
            status: 'pending',
            attempts: 0,
            next_attempt_at: sql<Date>`now()`,
            last_error: null,
            sent_at: null,
          })
          .where('client_id', '=', clientId)
          .where('created_at', '>=', since)
          .where('status', 'in', ['sent', 'failed'])
          .where('payload', 'is not', null)
          .executeTakeFirst();
        await trx
          .updateTable('event_streams')
          .set({ next_attempt_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
          .where('client_id', '=', clientId)
          .execute();
        await notifyOnCommit(trx, RELAY_CHANNEL);
        await notifyOnCommit(trx, POLL_CHANNEL);
        return Number(result.numUpdatedRows);
      });
    },
  };
}

export type StreamStore = ReturnType<typeof createStreamStore>;
