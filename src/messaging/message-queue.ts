import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';

export type OutgoingMail = { to: string; subject: string; text: string; html?: string };

/** Queues a mail as a record, inside the caller's transaction; the dispatcher sends it after commit. */
export async function enqueueMail(trx: Db, mail: OutgoingMail): Promise<void> {
  await trx
    .insertInto('messages')
    .values({
      channel: 'email',
      recipient: mail.to,
      subject: mail.subject,
      body_text: mail.text,
      body_html: mail.html ?? null,
      last_error: null,
      sent_at: null,
    })
    .execute();
}

/** Queues an SMS as a record, inside the caller's transaction; sent after commit like mail. */
export async function enqueueSms(trx: Db, sms: OutgoingSms): Promise<void> {
  await trx
    .insertInto('messages')
    .values({ channel: 'sms', recipient: sms.to, subject: '', body_text: sms.text, body_html: null, last_error: null, sent_at: null })
    .execute();
}

export type OutgoingSms = { to: string; text: string };

/** An SMS carrier. The real one is an HTTP gateway; development and tests keep them readable. */
export type SmsTransport = {
  send(sms: OutgoingSms): Promise<void>;
  keepsBodies: boolean;
};

export type MailTransport = {
  send(mail: OutgoingMail): Promise<void>;
  /** Whether sent bodies stay in the database (the development outbox shows them). */
  keepsBodies: boolean;
};

export type MessageDispatcher = {
  /** Sends what is due now; returns how many were sent. */
  runOnce(): Promise<number>;
  /** Wakes the worker now instead of at its next tick (called after a commit that queued mail). */
  nudge(): void;
  start(): void;
  stop(): Promise<void>;
};

const MAX_ATTEMPTS = 8;

/** What a message row keeps once it is sent or given up: recipient, status and times, no content. */
const FORGET_CONTENT = { subject: '', body_text: null, body_html: null };

/**
 * Removes sent and failed messages older than the retention (MESSAGES_RETENTION_DAYS); pending
 * ones stay whatever their age. Run periodically by the server; returns how many were removed.
 */
export async function pruneMessages(db: Db, retentionDays: number): Promise<number> {
  const result = await db
    .deleteFrom('messages')
    .where('status', 'in', ['sent', 'failed'])
    .where(sql<boolean>`coalesce(sent_at, created_at) < now() - make_interval(days => ${retentionDays})`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export function createMessageDispatcher(opts: {
  db: Db;
  transport: MailTransport;
  sms?: SmsTransport;
  intervalMs?: number;
  onError?: (error: unknown) => void;
}): MessageDispatcher {
  const { db, transport } = opts;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let again = false;
  let stopped = true;

  async function runOnce(): Promise<number> {
    let sent = 0;
    for (;;) {
      const batch = await db.transaction().execute(async (trx) => {
        const rows = await trx
          .selectFrom('messages')
          .selectAll()
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', sql<Date>`now()`)
          .orderBy('id')
          .limit(20)
          .forUpdate()
          .skipLocked()
          .execute();
        for (const row of rows) {
          try {
            const via = row.channel === 'sms' ? opts.sms : transport;
            if (!via) throw new Error('no SMS transport is configured');
            if (row.channel === 'sms') await opts.sms!.send({ to: row.recipient, text: row.body_text ?? '' });
            else
              await transport.send({
                to: row.recipient,
                subject: row.subject,
                text: row.body_text ?? '',
                ...(row.body_html ? { html: row.body_html } : {}),
              });
            await trx
              .updateTable('messages')
              .set({
                status: 'sent',
                sent_at: sql<Date>`now()`,
                attempts: row.attempts + 1,
                // Subjects and bodies carry one-time codes: once delivered they are not kept.
                ...(via.keepsBodies ? {} : FORGET_CONTENT),
              })
              .where('id', '=', row.id)
              .execute();
            sent++;
          } catch (error) {
            opts.onError?.(error);
            const attempts = row.attempts + 1;
            const backoff = Math.min(2 ** attempts * 5, 3600);
            const failed = attempts >= MAX_ATTEMPTS;
            await trx
              .updateTable('messages')
              .set({
                attempts,
                status: failed ? 'failed' : 'pending',
                // Given up: the code it carried will never be used, so it is not kept either.
                ...(failed ? FORGET_CONTENT : {}),
                last_error: String((error as Error).message ?? error).slice(0, 500),
                next_attempt_at: sql<Date>`now() + make_interval(secs => ${backoff})`,
              })
              .where('id', '=', row.id)
              .execute();
          }
        }
        return rows.length;
      });
      if (batch < 20) return sent;
    }
  }

  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = runOnce()
      .catch((error) => {
        opts.onError?.(error);
        return 0;
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  }

  return {
    runOnce,
    nudge: kick,
    start() {
      stopped = false;
      timer = setInterval(kick, opts.intervalMs ?? 2000);
      timer.unref();
      kick();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}

/**
 * Mail and SMS to the citizen's addresses, sent or not: an address and a subject are personal data,
 * and a code still waiting would reach an account that no longer exists. Runs before the
 * identifiers are erased: it reads them.
 */
export const messagesEraser: Eraser = {
  name: 'messaging',
  erases: { messages: 'deleted' },
  async erase(trx, citizenId) {
    const addresses = trx
      .selectFrom('identifiers')
      .select(sql<string>`lower(value)`.as('address'))
      .where('citizen_id', '=', citizenId)
      .where('kind', 'in', ['email', 'phone'])
      .union(
        trx
          .selectFrom('citizens')
          .select(sql<string>`lower(email)`.as('address'))
          .where('id', '=', citizenId),
      )
      .union(
        trx
          .selectFrom('citizens')
          .select(sql<string>`phone_number`.as('address'))
          .where('id', '=', citizenId)
          .where('phone_number', 'is not', null),
      );
    await trx.deleteFrom('messages').where(sql`lower(recipient)`, 'in', addresses).execute();
  },
};
