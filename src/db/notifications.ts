import type { PGlite } from '@electric-sql/pglite';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';

/**
 * PostgreSQL LISTEN/NOTIFY: `listen` calls `onNotify` after every commit that notified `channel`
 * (payloads are not used: a notification only says "look again"). The returned function stops it.
 * Notifications can be missed while the listening connection is being re-established, so callers
 * keep a (slow) poll as a safety net; `onNotify` is also called once after each reconnection.
 */
export type Listen = (channel: string, onNotify: () => void) => Promise<() => Promise<void>>;

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

function checkChannel(channel: string) {
  if (!CHANNEL.test(channel)) throw new Error(`invalid notification channel ${channel}`);
}

/**
 * One dedicated connection (outside the pool: a pooled client would be handed to other queries)
 * for every channel this process listens on; opened on the first `listen`, re-opened with backoff
 * when lost, closed with the last listener.
 */
export function pgNotifications(connectionString: string): { listen: Listen; close(): Promise<void> } {
  const listeners = new Map<string, Set<() => void>>();
  let client: pg.Client | undefined;
  let connecting: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryMs = 250;
  let closed = false;

  const notifyAll = () => {
    for (const set of listeners.values()) for (const fn of set) fn();
  };

  function scheduleReconnect() {
    if (closed || retryTimer || listeners.size === 0) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect().then(notifyAll, scheduleReconnect);
    }, retryMs);
    retryMs = Math.min(5_000, retryMs * 2);
  }

  function connect(): Promise<void> {
    connecting ??= (async () => {
      const c = new pg.Client({ connectionString });
      const lost = () => {
        if (client !== c) return;
        client = undefined;
        c.end().catch(() => {});
        scheduleReconnect();
      };
      c.on('error', lost);
      c.on('end', lost);
      c.on('notification', (message) => {
        for (const fn of listeners.get(message.channel) ?? []) fn();
      });
      try {
        await c.connect();
        for (const channel of listeners.keys()) await c.query(`listen ${channel}`);
      } catch (error) {
        c.removeAllListeners('end');
        await c.end().catch(() => {});
        throw error;
      }
      client = c;
      retryMs = 250;
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  return {
    async listen(channel, onNotify) {
      checkChannel(channel);
      if (closed) throw new Error('notifications closed');
      let set = listeners.get(channel);
      const first = !set;
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
      }
      set.add(onNotify);
      if (connecting) await connecting.catch(() => {});
      if (!client) {
        try {
          await connect();
        } catch (error) {
          scheduleReconnect();
          throw error;
        }
      } else if (first) await client.query(`listen ${channel}`);
      return async () => {
        set.delete(onNotify);
        if (set.size > 0) return;
        listeners.delete(channel);
        await client?.query(`unlisten ${channel}`).catch(() => {});
      };
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      listeners.clear();
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}

/**
 * PGlite: the one in-process connection listens. LISTEN goes through Kysely (its driver hands the
 * connection out one user at a time; issued beside it, it could land inside someone's transaction).
 */
export function pgliteNotifications(pglite: PGlite, db: Kysely<Database>): { listen: Listen } {
  return {
    async listen(channel, onNotify) {
      checkChannel(channel);
      const off = pglite.onNotification((name) => {
        if (name === channel) onNotify();
      });
      await sql.raw(`listen ${channel}`).execute(db);
      return async () => {
        off();
      };
    },
  };
}
