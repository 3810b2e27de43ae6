import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Listen } from '../db/notifications.ts';
import { fanOut } from './fan-out.ts';
import { RELAY_CHANNEL } from './outbox.ts';
import type { SetSigner } from './set-format.ts';
import type { Outgoing, Transport } from './transport.ts';

export type RelayOptions = {
  db: Db;
  issuer: string;
  signer: SetSigner;
  /**
   * PostgreSQL: a stream is claimed with FOR UPDATE SKIP LOCKED and the lock is held while its
   * batch is sent, so any number of relays (processes) can run. PGlite lives inside one process,
   * where one relay is all there can be: nothing is held open while sending (the one connection
   * serves the web too).
   */
  lockStreams: boolean;
  amqp?: Transport | undefined;
  push?: Transport | undefined;
  /** Consecutive failures after which a push stream is paused until an operator resumes it. */
  pauseAfter: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Sent deliveries are kept this long (for replay), then removed. */
  retentionDays?: number;
  /** Poll interval with nothing to do and no notifications (default 100 ms). */
  idleMs?: number;
  /**
   * Wakes the relay when work commits (LISTEN on RELAY_CHANNEL). While it listens, polling every
   * `listeningIdleMs` (default 1 s) stays as the safety net: for retries coming due, and for what
   * was notified while the listening connection was being re-established.
   */
  listen?: Listen | undefined;
  listeningIdleMs?: number;
  batchSize?: number;
  /**
   * AMQP streams claimed together: their batches are published at once and share the wait for
   * the broker's confirms. Push streams are claimed one at a time (a slow endpoint holds only its own).
   */
  amqpStreamsPerClaim?: number;
  /** Streams sent at once (each in its own transaction). */
  concurrency?: number;
  onError?: (error: Error, context: Record<string, unknown>) => void;
  /** Test hook: runs after the transport took a batch and before the batch is marked sent. */
  afterDeliver?: (clientId: string, batch: Outgoing[]) => Promise<void>;
};

export type Relay = {
  /** Fans out what is in the outbox and sends what is due; returns how much it did. */
  runOnce(notified?: boolean): Promise<{ events: number; delivered: number }>;
  start(): void;
  /** Wakes the relay now instead of at its next tick. */
  nudge(): void;
  stop(): Promise<void>;
};

/** Outbox events turned into deliveries per fan-out transaction. */
const FAN_OUT_BATCH = 200;

type StreamRow = {
  client_id: string;
  method: 'poll' | 'amqp' | 'push';
  push_url: string | null;
  consecutive_failures: number;
};

/** Exponential backoff with jitter: half of the delay fixed, half random. */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random = Math.random): number {
  const delay = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(delay / 2 + (random() * delay) / 2);
}

/**
 * Turns outbox rows into deliveries (fan-out.ts) and sends each service's pending deliveries, in
 * order, through its transport. At-least-once: a batch is marked sent only after the transport
 * confirmed it, so a relay that dies in between leaves it pending and it is sent again, with the
 * same jti. Order: one stream is sent by one relay at a time, oldest first, and a failure stops
 * that stream (not the others) until its next attempt.
 */
export function createRelay(opts: RelayOptions): Relay {
  const { db, signer } = opts;
  const idleMs = opts.idleMs ?? 100;
  const concurrency = opts.lockStreams ? (opts.concurrency ?? 4) : 1;
  const retentionDays = opts.retentionDays ?? 30;
  const served = [...(opts.amqp ? ['amqp' as const] : []), ...(opts.push ? ['push' as const] : [])];
  const busy = new Set<string>();
  let lastPrune = 0;

  function pickQuery(q: Db, method: 'amqp' | 'push', limit: number) {
    let query = q
      .selectFrom('event_streams as s')
      .select(['s.client_id', 's.method', 's.push_url', 's.consecutive_failures'])
      .where('s.method', '=', method)
      .where('s.paused_at', 'is', null)
      .where('s.next_attempt_at', '<=', sql<Date>`now()`)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('event_deliveries as d')
            .select('d.id')
            .whereRef('d.client_id', '=', 's.client_id')
            .where('d.status', '=', 'pending'),
        ),
      )
      .orderBy('s.next_attempt_at')
      .limit(limit);
    if (busy.size) query = query.where('s.client_id', 'not in', [...busy]);
    return query;
  }

  /** The oldest pending deliveries of each stream (at most `limit` each), in id order. */
  async function pendingOf(q: Db, clientIds: string[], limit: number) {
    const result = await sql<{
      id: string;
      client_id: string;
      jti: string;
      event_type: string;
      payload: Record<string, unknown> | null;
    }>`
      select d.id, d.client_id, d.jti, d.event_type, d.payload
      from unnest(${clientIds}::text[]) as s(client_id)
      cross join lateral (
        select id, client_id, jti, event_type, payload from event_deliveries
        where client_id = s.client_id and status = 'pending' order by id limit ${limit}
      ) d
      order by d.id`.execute(q);
    return result.rows;
  }

  /**
   * Sends one batch of each claimed stream, all at once (their broker confirms are awaited
   * together), then marks what was delivered in one statement. A stream that failed keeps the
   * rest of its batch pending and waits for its next attempt; the others are not held back.
   */
  async function sendStreams(q: Db, streams: StreamRow[], unavailable?: Error): Promise<number> {
    const method = streams[0]!.method;
    const transport = method === 'amqp' ? opts.amqp : opts.push;
    if (!transport) return 0;
    const limit = opts.batchSize ?? (method === 'amqp' ? 250 : 50);
    const rows = await pendingOf(
      q,
      streams.map((s) => s.client_id),
      limit,
    );
    if (rows.length === 0) return 0;
    const signed = await Promise.all(
      rows.map(async (r) => ({
        clientId: r.client_id,
        id: r.id,
        jti: r.jti,
        eventType: r.event_type,
        token: await signer.sign(r.payload ?? {}),
      })),
    );
    const outcomes = await Promise.all(
      streams.map(async (stream) => {
        const batch: Outgoing[] = signed.filter((o) => o.clientId === stream.client_id);
        if (batch.length === 0) return { stream, batch, done: [] as Outgoing[], error: undefined };
        if (unavailable) return { stream, batch, done: [] as Outgoing[], error: unavailable };
        const result = await transport.deliver(
          { clientId: stream.client_id, pushUrl: stream.push_url },
          batch,
        );
        const done = batch.slice(0, result.delivered);
        if (done.length && opts.afterDeliver) await opts.afterDeliver(stream.client_id, done);
        return { stream, batch, done, error: result.error };
      }),
    );
    const delivered = outcomes.flatMap((o) => o.done.map((d) => d.id));
    if (delivered.length) {
      await q
        .updateTable('event_deliveries')
        .set({
          status: 'sent',
          sent_at: sql<Date>`now()`,
          attempts: sql<number>`attempts + 1`,
          last_error: null,
        })
        .where('id', 'in', delivered)
        .execute();
    }
    const succeeded = outcomes.filter((o) => !o.error && o.batch.length).map((o) => o.stream.client_id);
    if (succeeded.length) {
      await q
        .updateTable('event_streams')
        .set({
          consecutive_failures: 0,
          last_error: null,
          last_delivery_at: sql<Date>`now()`,
          next_attempt_at: sql<Date>`now()`,
        })
        .where('client_id', 'in', succeeded)
        .execute();
    }
    for (const { stream, batch, done, error } of outcomes) {
      if (!error) continue;
      const failures = stream.consecutive_failures + 1;
      const delay = backoffMs(failures, opts.retryBaseMs, opts.retryMaxMs);
      const message = error.message.slice(0, 500);
      // Push endpoints are the service's own: after too many failures in a row the operator is the
      // one to look. A broker outage is Cidadela's own: AMQP streams keep retrying.
      const pause = stream.method === 'push' && failures >= opts.pauseAfter;
      const head = batch[done.length];
      if (head) {
        await q
          .updateTable('event_deliveries')
          .set({
            attempts: sql<number>`attempts + 1`,
            last_error: message,
            next_attempt_at: sql<Date>`now() + make_interval(secs => ${delay / 1000})`,
          })
          .where('id', '=', head.id)
          .execute();
      }
      await q
        .updateTable('event_streams')
        .set({
          consecutive_failures: failures,
          last_error: message,
          next_attempt_at: sql<Date>`now() + make_interval(secs => ${delay / 1000})`,
          ...(pause ? { paused_at: sql<Date>`now()` } : {}),
          ...(done.length ? { last_delivery_at: sql<Date>`now()` } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('client_id', '=', stream.client_id)
        .execute();
      opts.onError?.(error, { clientId: stream.client_id, method: stream.method, failures, paused: pause });
    }
    return delivered.length;
  }

  let turn = 0;

  /** Claims due streams and sends one batch of each; undefined when no stream is due. */
  async function sendOne(): Promise<number | undefined> {
    // Methods take turns, so a busy AMQP load never starves push streams (or the reverse).
    turn++;
    for (let i = 0; i < served.length; i++) {
      const method = served[(turn + i) % served.length]!;
      const limit = method === 'amqp' ? (opts.amqpStreamsPerClaim ?? 16) : 1;
      const sent = await claimAndSend(method, limit);
      if (sent !== undefined) return sent;
    }
    return undefined;
  }

  async function claimAndSend(method: 'amqp' | 'push', limit: number): Promise<number | undefined> {
    // Connecting (to a broker that may be down) happens before any row is locked; if it fails, the
    // claimed streams record the failure without waiting on the network inside the transaction.
    let unavailable: Error | undefined;
    const transport = method === 'amqp' ? opts.amqp : opts.push;
    if (transport?.ready && !transport.connected?.()) {
      // Only when some stream is due: a broker that is down is not called in a loop.
      if ((await pickQuery(db, method, 1).execute()).length === 0) return undefined;
      try {
        await transport.ready();
      } catch (error) {
        unavailable = error as Error;
      }
    }
    if (opts.lockStreams) {
      return db.transaction().execute(async (trx) => {
        const streams = (await pickQuery(trx, method, limit)
          .forUpdate()
          .skipLocked()
          .execute()) as StreamRow[];
        if (streams.length === 0) return undefined;
        return sendStreams(trx, streams, unavailable);
      });
    }
    const streams = (await pickQuery(db, method, limit).execute()) as StreamRow[];
    if (streams.length === 0) return undefined;
    for (const stream of streams) busy.add(stream.client_id);
    try {
      return await sendStreams(db, streams, unavailable);
    } finally {
      for (const stream of streams) busy.delete(stream.client_id);
    }
  }

  async function prune(): Promise<void> {
    if (Date.now() - lastPrune < 60 * 60 * 1000) return;
    lastPrune = Date.now();
    const cutoff = sql<Date>`now() - make_interval(days => ${retentionDays})`;
    await db
      .deleteFrom('event_deliveries')
      .where('status', '=', 'sent')
      .where('sent_at', '<', cutoff)
      .execute();
    await db
      .deleteFrom('events')
      .where('fanned_out_at', '<', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(selectFrom('event_deliveries as d').select('d.id').whereRef('d.event_id', '=', 'events.id')),
        ),
      )
      .execute();
  }

  /** One cheap query: is there anything to fan out, or a stream due? (An idle relay asks only this.) */
  async function anythingToDo(): Promise<boolean> {
    const result = await sql<{ todo: boolean }>`select
        exists (select 1 from events where fanned_out_at is null)
        or exists (
          select 1 from event_streams s
          where s.method = any(${served}::text[]) and s.paused_at is null and s.next_attempt_at <= now()
            and exists (select 1 from event_deliveries d where d.client_id = s.client_id and d.status = 'pending')
        ) as todo`.execute(db);
    return Boolean(result.rows[0]?.todo);
  }

  /**
   * `notified`: a commit just said there is work, so the cheap "anything to do?" question that an
   * idle poll asks first is skipped (one round trip less between a change and its delivery).
   */
  async function runOnce(notified = false): Promise<{ events: number; delivered: number }> {
    await prune().catch((error) => opts.onError?.(error as Error, { task: 'prune' }));
    if (!notified && !(await anythingToDo())) return { events: 0, delivered: 0 };
    let events = 0;
    for (let round = 0; round < 50; round++) {
      const r = await fanOut(db, opts.issuer, FAN_OUT_BATCH);
      events += r.events;
      // A short batch took everything there was; what commits later notifies again.
      if (r.events < FAN_OUT_BATCH) break;
    }
    let delivered = 0;
    const worker = async () => {
      for (let round = 0; round < 200; round++) {
        const n = await sendOne();
        if (n === undefined) return;
        delivered += n;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { events, delivered };
  }

  let stopped = true;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Set by a wake-up that arrives while a round runs: the next round starts at once.
  let woken = false;
  let listening = false;
  let unlisten: Promise<(() => Promise<void>) | undefined> | undefined;

  function nudge() {
    woken = true;
    wake?.();
  }

  async function run(): Promise<void> {
    while (!stopped) {
      const notified = woken;
      woken = false;
      let worked = false;
      try {
        const r = await runOnce(notified);
        worked = r.events > 0 || r.delivered > 0;
      } catch (error) {
        opts.onError?.(error as Error, { task: 'relay' });
      }
      if (stopped) break;
      if (!worked && !woken) {
        await new Promise<void>((resolve) => {
          // A wake-up ends the sleep and its timer (a long one left behind would hold the process).
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          timer = setTimeout(resolve, listening ? (opts.listeningIdleMs ?? 1000) : idleMs);
        });
        wake = undefined;
      }
    }
  }

  return {
    runOnce,
    start() {
      if (!stopped) return;
      stopped = false;
      if (opts.listen) {
        unlisten = opts.listen(RELAY_CHANNEL, nudge).then(
          (off) => {
            listening = true;
            return off;
          },
          (error) => {
            // Not fatal: the relay keeps polling at idleMs (and the listener keeps reconnecting).
            opts.onError?.(error as Error, { task: 'listen' });
            return undefined;
          },
        );
      }
      loop = run();
    },
    nudge,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
      await loop;
      const off = await unlisten;
      unlisten = undefined;
      listening = false;
      await off?.().catch(() => {});
    },
  };
}
