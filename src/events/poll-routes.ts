import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import type { Listen } from '../db/notifications.ts';
import { POLL_CHANNEL } from './outbox.ts';
import { safeEqual } from '../security/secrets.ts';
import { hashClientSecret, type ServiceStore } from '../services/service-store.ts';
import type { SetSigner } from './set-format.ts';
import type { StreamStore } from './stream-store.ts';

export const POLL_PATH = '/api/v1/events';
/** The poll body limit: a full acknowledgement (1,000 jtis) with room to spare. */
export const POLL_BODY_LIMIT = 256 * 1024;
const DEFAULT_MAX_EVENTS = 100;
const MAX_EVENTS = 1000;

/** The poll request body (RFC 8936 §2.4); the OpenAPI document shows this same schema. */
export const pollRequestSchema = z.object({
  ack: z.array(z.string().min(1).max(100)).max(MAX_EVENTS).default([]),
  setErrs: z
    .record(
      z.string().min(1).max(100),
      z.object({ err: z.string().max(100), description: z.string().max(1000).optional() }),
    )
    .default({}),
  maxEvents: z.number().int().min(0).max(MAX_EVENTS).optional(),
  returnImmediately: z.boolean().default(false),
});

/** client_secret_basic (RFC 6749 §2.3.1): both halves form-urlencoded, then base64. */
export function basicCredentials(
  header: string | undefined,
): { clientId: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0) return undefined;
  try {
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { clientId: unform(decoded.slice(0, i)), secret: unform(decoded.slice(i + 1)) };
  } catch {
    return undefined;
  }
}

function fail(reply: FastifyReply, status: number, err: string, description: string) {
  if (status === 401) reply.header('www-authenticate', 'Basic realm="cidadela-events"');
  return reply.status(status).send({ err, description });
}

/**
 * Poll delivery (RFC 8936): a service fetches its pending SETs and acknowledges them, with its
 * client credentials. Unacknowledged SETs are returned again (oldest first) until acknowledged.
 * Works with no broker at all: the default way a service receives its events.
 */
export function registerPollRoutes(
  app: FastifyInstance,
  deps: {
    db: Db;
    services: ServiceStore;
    streams: StreamStore;
    signer: SetSigner;
    longPollMs?: number;
    closing: () => boolean;
    /** LISTEN/NOTIFY: a long poll answers when deliveries commit, not at its next look. */
    listen?: Listen | undefined;
    /** How often a long poll looks again without a notification (default 1 s listening, else 250 ms). */
    lookEveryMs?: number;
  },
) {
  const { db, services, streams, signer } = deps;
  const longPollMs = deps.longPollMs ?? 10_000;

  // One subscription for every waiting long poll, taken at the first one.
  const waiters = new Set<() => void>();
  // Counts notifications, so one that lands between a look and the wait is not missed.
  let notified = 0;
  let subscription: Promise<(() => Promise<void>) | undefined> | undefined;
  let listening = false;
  function subscribe() {
    if (!deps.listen || subscription) return;
    subscription = deps.listen(POLL_CHANNEL, () => {
      notified++;
      for (const w of waiters) w();
      waiters.clear();
    }).then(
      (off) => {
        listening = true;
        return off;
      },
      () => undefined,
    );
  }
  app.addHook('onClose', async () => {
    const off = await subscription;
    await off?.().catch(() => {});
  });
  /** Until deliveries are notified, or the next look (the safety net: 1 s while listening). */
  function nextLook(since: number): Promise<void> {
    if (notified !== since) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, deps.lookEveryMs ?? (listening ? 1000 : 250));
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  async function authenticate(request: FastifyRequest): Promise<string | undefined> {
    const credentials = basicCredentials(request.headers.authorization);
    if (!credentials) return undefined;
    const stored = await services.secretHash(credentials.clientId);
    if (!stored) return undefined;
    return safeEqual(hashClientSecret(credentials.secret), stored) ? credentials.clientId : undefined;
  }

  async function pending(clientId: string, limit: number) {
    return db
      .selectFrom('event_deliveries')
      .select(['jti', 'payload'])
      .where('client_id', '=', clientId)
      .where('status', '=', 'pending')
      .orderBy('id')
      .limit(limit + 1)
      .execute();
  }

  app.post(POLL_PATH, { config: { csrf: false }, bodyLimit: POLL_BODY_LIMIT }, async (request, reply) => {
    const clientId = await authenticate(request);
    if (!clientId)
      return fail(
        reply,
        401,
        'authentication_failed',
        'client_secret_basic credentials of the service are required',
      );
    const parsed = pollRequestSchema.safeParse(request.body ?? {});
    if (!parsed.success) {
      return fail(
        reply,
        400,
        'invalid_request',
        parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
      );
    }
    const settings = await streams.settings(clientId);
    if (settings.method !== 'poll') {
      return fail(
        reply,
        400,
        'invalid_request',
        `this service receives its events by ${settings.method}, not by polling`,
      );
    }
    const { ack, setErrs, returnImmediately } = parsed.data;
    const maxEvents = parsed.data.maxEvents ?? DEFAULT_MAX_EVENTS;
    const errors = Object.entries(setErrs);
    if (ack.length || errors.length) {
      await db.transaction().execute(async (trx) => {
        let acknowledged = 0;
        if (ack.length) {
          const r = await trx
            .updateTable('event_deliveries')
            .set({ status: 'sent', sent_at: sql<Date>`now()`, attempts: sql<number>`attempts + 1` })
            .where('client_id', '=', clientId)
            .where('status', '=', 'pending')
            .where('jti', 'in', ack)
            .executeTakeFirst();
          acknowledged += Number(r.numUpdatedRows);
        }
        for (const [jti, e] of errors) {
          const r = await trx
            .updateTable('event_deliveries')
            .set({
              status: 'failed',
              attempts: sql<number>`attempts + 1`,
              last_error: `${e.err}${e.description ? `: ${e.description}` : ''}`.slice(0, 500),
            })
            .where('client_id', '=', clientId)
            .where('status', '=', 'pending')
            .where('jti', '=', jti)
            .executeTakeFirst();
          acknowledged += Number(r.numUpdatedRows);
        }
        if (acknowledged) {
          await trx
            .updateTable('event_streams')
            .set({ last_delivery_at: sql<Date>`now()` })
            .where('client_id', '=', clientId)
            .execute();
        }
      });
    }
    if (maxEvents > 0 && !returnImmediately) subscribe();
    let seen = notified;
    let rows = maxEvents > 0 ? await pending(clientId, maxEvents) : [];
    // Long polling (the RFC's default): wait, bounded, for something to arrive.
    const deadline = Date.now() + longPollMs;
    while (
      maxEvents > 0 &&
      rows.length === 0 &&
      !returnImmediately &&
      Date.now() < deadline &&
      !deps.closing()
    ) {
      await nextLook(seen);
      if (request.raw.socket?.destroyed) return reply;
      seen = notified;
      rows = await pending(clientId, maxEvents);
    }
    const sets: Record<string, string> = {};
    for (const row of rows.slice(0, maxEvents)) sets[row.jti] = await signer.sign(row.payload ?? {});
    return reply.status(200).send({ sets, moreAvailable: rows.length > maxEvents });
  });
}
