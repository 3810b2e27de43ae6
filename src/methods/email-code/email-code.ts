import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import { recordEvent } from '../../events/outbox.ts';
import { createCitizenStore, writeProfile } from '../../identity/citizen-store.ts';
import type { Translate } from '../../http/i18n.ts';
import { enqueueMail } from '../../messaging/message-queue.ts';
import { randomId, type Secrets, safeEqual, sixDigitCode } from '../../security/secrets.ts';

export const CODE_TTL_SECONDS = 10 * 60;
export const MAX_TRIES = 5;
export const MAX_SENDS = 5;
export const RESEND_AFTER_SECONDS = 30;

export type VerifyResult =
  | { ok: true; citizenId: string }
  | { ok: false; code: 'email_code.invalid'; triesLeft: number }
  | { ok: false; code: 'email_code.expired' | 'email_code.too_many' | 'email_code.unknown' | 'register.email_taken' };

/**
 * A 6-digit code sent by mail: valid 10 minutes, single use, at most 5 tries. Only a keyed digest
 * of the code is stored; the mail itself is queued in the same transaction as the flow.
 */
export function createEmailCodeMethod(deps: { db: Db; secrets: Secrets }) {
  const { db, secrets } = deps;
  const hash = (flowId: string, code: string) => secrets.digest('email-code', `${flowId}:${code}`);

  async function sendCode(trx: Db, flowId: string, email: string, t: Translate): Promise<void> {
    const code = sixDigitCode();
    await trx
      .updateTable('flows')
      .set({
        code_hash: hash(flowId, code),
        attempts: 0,
        expires_at: sql<Date>`now() + make_interval(secs => ${CODE_TTL_SECONDS})`,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', flowId)
      .execute();
    await enqueueMail(trx, {
      to: email,
      subject: t('mail.email_code.subject', { code }),
      text: t('mail.email_code.body', { code, minutes: CODE_TTL_SECONDS / 60 }),
    });
  }

  return {
    /** Starts a confirmation of `email` for the citizen, inside the caller's transaction. */
    async start(
      trx: Db,
      input: { citizenId: string; email: string; interactionUid: string | null; t: Translate },
    ): Promise<string> {
      const id = randomId();
      await trx
        .insertInto('flows')
        .values({
          id,
          kind: 'email_verification',
          state: 'code_sent',
          citizen_id: input.citizenId,
          interaction_uid: input.interactionUid,
          code_hash: null,
          data: JSON.stringify({ email: input.email, sends: 1, lastSentAt: Date.now() }),
          expires_at: new Date(Date.now() + CODE_TTL_SECONDS * 1000),
        })
        .execute();
      await sendCode(trx, id, input.email, input.t);
      return id;
    },

    /**
     * Starts a change of the citizen's e-mail: nothing changes until the code sent to the new
     * address comes back, so a typo cannot lock anyone out of their account.
     */
    async startChange(trx: Db, input: { citizenId: string; newEmail: string; t: Translate }): Promise<string> {
      await trx
        .updateTable('flows')
        .set({ state: 'done', code_hash: null })
        .where('citizen_id', '=', input.citizenId)
        .where('kind', '=', 'email_verification')
        .where('interaction_uid', 'is', null)
        .where('state', '!=', 'done')
        .execute();
      const id = randomId();
      await trx
        .insertInto('flows')
        .values({
          id,
          kind: 'email_verification',
          state: 'code_sent',
          citizen_id: input.citizenId,
          interaction_uid: null,
          code_hash: null,
          data: JSON.stringify({ email: input.newEmail, change: true, sends: 1, lastSentAt: Date.now() }),
          expires_at: new Date(Date.now() + CODE_TTL_SECONDS * 1000),
        })
        .execute();
      await sendCode(trx, id, input.newEmail, input.t);
      return id;
    },

    /** The pending e-mail change of a citizen, if any. */
    async pendingChange(citizenId: string) {
      const flow = await db
        .selectFrom('flows')
        .select(['id', 'data', 'expires_at'])
        .where('citizen_id', '=', citizenId)
        .where('kind', '=', 'email_verification')
        .where('interaction_uid', 'is', null)
        .where('state', '!=', 'done')
        .orderBy('created_at', 'desc')
        .executeTakeFirst();
      if (!flow || !(flow.data as { change?: boolean }).change) return undefined;
      return { id: flow.id, email: String((flow.data as { email?: string }).email) };
    },

    async findForInteraction(interactionUid: string) {
      return db
        .selectFrom('flows')
        .select(['id', 'citizen_id', 'state', 'data', 'expires_at'])
        .where('interaction_uid', '=', interactionUid)
        .where('kind', '=', 'email_verification')
        .orderBy('created_at', 'desc')
        .executeTakeFirst();
    },

    async verify(flowId: string, typed: string): Promise<VerifyResult> {
      return db.transaction().execute(async (trx) => {
        const flow = await trx
          .selectFrom('flows')
          .select(['citizen_id', 'state', 'code_hash', 'attempts', 'expires_at', 'data'])
          .where('id', '=', flowId)
          .where('kind', '=', 'email_verification')
          .forUpdate()
          .executeTakeFirst();
        if (!flow || !flow.citizen_id || flow.state === 'done') return { ok: false, code: 'email_code.unknown' };
        if (flow.attempts >= MAX_TRIES) return { ok: false, code: 'email_code.too_many' };
        if (new Date(flow.expires_at).getTime() < Date.now()) return { ok: false, code: 'email_code.expired' };
        const code = typed.replace(/\s/g, '');
        if (/^\d{6}$/.test(code) && flow.code_hash && safeEqual(hash(flowId, code), flow.code_hash)) {
          await trx
            .updateTable('flows')
            .set({ state: 'done', code_hash: null, updated_at: sql<Date>`now()` })
            .where('id', '=', flowId)
            .execute();
          const email = String((flow.data as { email?: string }).email);
          if ((flow.data as { change?: boolean }).change) {
            // The new address is proven: it replaces the old one (profile change event for the
            // services), then counts as verified.
            const citizen = await createCitizenStore(trx).findById(flow.citizen_id);
            if (!citizen) return { ok: false, code: 'email_code.unknown' };
            const taken = await trx
              .selectFrom('citizens')
              .select('id')
              .where(sql`lower(email)`, '=', email.toLowerCase())
              .where('id', '!=', flow.citizen_id)
              .executeTakeFirst();
            if (taken) return { ok: false, code: 'register.email_taken' };
            await writeProfile(trx, citizen, { email });
          }
          const verified = await trx
            .updateTable('citizens')
            .set({ email_verified: true, updated_at: sql<Date>`now()` })
            .where('id', '=', flow.citizen_id)
            .where('email', '=', email)
            .where('email_verified', '=', false)
            .executeTakeFirst();
          if (Number(verified.numUpdatedRows) > 0) await recordEvent(trx, { type: 'email.verified', citizenId: flow.citizen_id, email });
          return { ok: true, citizenId: flow.citizen_id };
        }
        const attempts = flow.attempts + 1;
        await trx.updateTable('flows').set({ attempts }).where('id', '=', flowId).execute();
        if (attempts >= MAX_TRIES) return { ok: false, code: 'email_code.too_many' };
        return { ok: false, code: 'email_code.invalid', triesLeft: MAX_TRIES - attempts };
      });
    },

    /** A new code (the old one stops working); limited in count and frequency. */
    async resend(flowId: string, t: Translate): Promise<'sent' | 'email_code.wait' | 'email_code.send_limit' | 'email_code.unknown'> {
      return db.transaction().execute(async (trx) => {
        const flow = await trx
          .selectFrom('flows')
          .select(['state', 'data'])
          .where('id', '=', flowId)
          .where('kind', '=', 'email_verification')
          .forUpdate()
          .executeTakeFirst();
        if (!flow || flow.state === 'done') return 'email_code.unknown';
        const data = flow.data as { email: string; sends: number; lastSentAt: number };
        if (data.sends >= MAX_SENDS) return 'email_code.send_limit';
        if (Date.now() - data.lastSentAt < RESEND_AFTER_SECONDS * 1000) return 'email_code.wait';
        await trx
          .updateTable('flows')
          .set({ data: JSON.stringify({ ...data, sends: data.sends + 1, lastSentAt: Date.now() }) })
          .where('id', '=', flowId)
          .execute();
        await sendCode(trx as unknown as Db, flowId, data.email, t);
        return 'sent';
      });
    },
  };
}

export type EmailCodeMethod = ReturnType<typeof createEmailCodeMethod>;
