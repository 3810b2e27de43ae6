import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { AppError } from '../platform/errors.ts';
import { SET_MEDIA_TYPE } from './set-format.ts';
import { amqpQueueName, deadLetterQueueName } from './stream-store.ts';
import type { Outgoing, Transport } from './transport.ts';

export { deadLetterQueueName };

/** How many times a consumer may give a message back before it goes to the dead-letter queue. */
const DELIVERY_LIMIT = 20;

/**
 * Declares a service's durable quorum queue and its dead-letter queue (idempotent). Both the relay
 * (before publishing) and the operator's delivery command (so the service's consumer, whose broker
 * user may not declare, can start before the first event) come here, so the arguments are one.
 */
export async function declareServiceQueues(connection: ChannelModel, clientId: string): Promise<void> {
  const queue = amqpQueueName(clientId);
  // Declarations on a channel of their own: a refused one closes its channel, not the publisher's.
  const ch = await connection.createChannel();
  ch.on('error', () => {});
  try {
    await ch.assertQueue(deadLetterQueueName(clientId), {
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    await ch.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': deadLetterQueueName(clientId),
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
        'x-delivery-limit': DELIVERY_LIMIT,
      },
    });
  } catch (error) {
    // 406: the queue exists with other arguments (declared by an operator): use it as it is.
    if ((error as { code?: number }).code !== 406) throw error;
    const check = await connection.createChannel();
    check.on('error', () => {});
    await check.checkQueue(queue);
    await check.close().catch(() => {});
  } finally {
    await ch.close().catch(() => {});
  }
}

/**
 * For the operator's delivery command: declares one service's queues over a connection of its own
 * (a rare call; the relay's connection is not shared across processes). Any broker failure is a
 * 503 to retry, and the caller changes nothing.
 */
export function amqpQueueDeclarer(url: string | undefined, timeoutMs = 5_000) {
  if (!url) return undefined;
  return async (clientId: string): Promise<void> => {
    let connection: ChannelModel | undefined;
    try {
      connection = await amqp.connect(url, { timeout: timeoutMs });
      connection.on('error', () => {});
      await declareServiceQueues(connection, clientId);
    } catch (error) {
      const e = error as Error & { code?: string | number };
      // For the operator: what went wrong, never a URL (it could hold the broker password).
      const reason = String(e.message ?? e.code ?? 'unknown').replace(/\w+:\/\/\S*/g, '…').slice(0, 300);
      throw new AppError('broker.unavailable', 503, { reason });
    } finally {
      await connection?.close().catch(() => {});
    }
  };
}

export type AmqpQueueDeclarer = NonNullable<ReturnType<typeof amqpQueueDeclarer>>;

/**
 * RabbitMQ: a durable quorum queue per service (`cidadela.<client_id>`), with its dead-letter
 * queue (`cidadela.<client_id>.dlq`) for messages the consumer rejects or keeps failing on.
 * Messages are persistent and published with confirms: a batch counts as delivered only up to
 * the first message the broker did not acknowledge. One connection, opened when first needed and
 * again after it is lost.
 */
export function createAmqpTransport(opts: {
  url: string;
  confirmTimeoutMs?: number;
  connectTimeoutMs?: number;
}): Transport & {
  close(): Promise<void>;
} {
  const confirmTimeoutMs = opts.confirmTimeoutMs ?? 15_000;
  let connection: ChannelModel | undefined;
  let channel: ConfirmChannel | undefined;
  let connecting: Promise<ConfirmChannel> | undefined;
  const declared = new Set<string>();
  const returned = new Set<string>();
  let closed = false;
  // After a failed connection, new attempts wait (250 ms doubling up to 5 s); until then the last
  // error is returned at once.
  let lastFailure: { error: Error; retryAt: number; delayMs: number } | undefined;

  function forget(c: ChannelModel) {
    if (connection !== c) return;
    connection = undefined;
    channel = undefined;
    declared.clear();
  }

  async function open(): Promise<ConfirmChannel> {
    if (channel) return channel;
    if (closed) throw new Error('amqp transport closed');
    if (lastFailure && Date.now() < lastFailure.retryAt) throw lastFailure.error;
    connecting ??= (async () => {
      let c: ChannelModel;
      try {
        c = await amqp.connect(opts.url, { timeout: opts.connectTimeoutMs ?? 5_000 });
      } catch (error) {
        const delayMs = Math.min(5_000, (lastFailure?.delayMs ?? 125) * 2);
        // Never the URL (it holds the broker password): only what went wrong.
        const e = error as Error & { code?: string };
        lastFailure = {
          error: new Error(`broker unreachable: ${e.code ?? e.message}`),
          retryAt: Date.now() + delayMs,
          delayMs,
        };
        throw lastFailure.error;
      }
      lastFailure = undefined;
      c.on('error', () => {});
      c.on('close', () => forget(c));
      try {
        const ch = await c.createConfirmChannel();
        ch.on('error', () => {});
        ch.on('close', () => {
          // A channel closed by the broker (not the connection) is not reusable either.
          if (channel === ch) {
            c.close().catch(() => {});
            forget(c);
          }
        });
        ch.on('return', (message) => {
          if (message.properties.messageId) returned.add(String(message.properties.messageId));
        });
        connection = c;
        channel = ch;
        return ch;
      } catch (error) {
        await c.close().catch(() => {});
        throw error;
      }
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  /** Declares the service's queue and dead-letter queue once per connection. */
  async function declare(clientId: string): Promise<string> {
    const queue = amqpQueueName(clientId);
    if (declared.has(queue)) return queue;
    const c = connection;
    if (!c) throw new Error('amqp connection lost');
    await declareServiceQueues(c, clientId);
    declared.add(queue);
    return queue;
  }

  return {
    name: 'amqp',
    async ready() {
      await open();
    },
    connected: () => channel !== undefined,
    async deliver(stream, batch: Outgoing[]) {
      let ch: ConfirmChannel;
      let queue: string;
      try {
        ch = await open();
        queue = await declare(stream.clientId);
      } catch (error) {
        return { delivered: 0, error: error as Error };
      }
      const confirms: Promise<void>[] = [];
      for (const item of batch) {
        confirms.push(
          new Promise<void>((resolve, reject) => {
            // A false return only says amqplib's write buffer is full; batches are bounded, so the
            // buffer is bounded too.
            ch.publish(
              '',
              queue,
              Buffer.from(item.token),
              {
                persistent: true,
                mandatory: true,
                contentType: SET_MEDIA_TYPE,
                messageId: item.jti,
                type: item.eventType,
                timestamp: Math.floor(Date.now() / 1000),
                appId: 'cidadela',
              },
              (err: unknown) =>
                err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
            );
          }),
        );
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), confirmTimeoutMs);
      });
      const settled = await Promise.race([Promise.allSettled(confirms), timeout]);
      clearTimeout(timer);
      if (settled === 'timeout') {
        // Unconfirmed after the timeout: drop the connection (pending callbacks fail with it) and
        // count nothing as delivered; the batch is published again on a new connection.
        const c = connection;
        if (c) {
          forget(c);
          c.close().catch(() => {});
        }
        return { delivered: 0, error: new Error(`no publisher confirm within ${confirmTimeoutMs} ms`) };
      }
      let delivered = 0;
      let error: Error | undefined;
      for (let i = 0; i < batch.length; i++) {
        const r = settled[i]!;
        const jti = batch[i]!.jti;
        if (r.status === 'rejected') error = r.reason as Error;
        else if (returned.delete(jti))
          error = new Error(`queue ${queue} did not take the message (returned)`);
        if (error) break;
        delivered++;
      }
      for (const item of batch) returned.delete(item.jti);
      if (error) declared.delete(queue);
      return error ? { delivered, error } : { delivered };
    },
    async close() {
      closed = true;
      const c = connection;
      connection = undefined;
      channel = undefined;
      if (c) await c.close().catch(() => {});
    },
  };
}
