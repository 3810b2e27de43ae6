import type { Db } from '../../db/database.ts';
import { recordEvent } from '../../events/outbox.ts';
import { createCitizenStore, writeProfile } from '../../identity/citizen-store.ts';
import { takenKinds } from '../../identity/identifiers.ts';
import type { Translate } from '../../platform/i18n.ts';
import { enqueueMail } from '../../messaging/message-queue.ts';
import type { Secrets } from '../../security/secrets.ts';
import { allowResend, CODE_TTL_SECONDS, consumeCode, issueCode, openCodeFlow } from '../one-time-code.ts';

export { CODE_TTL_SECONDS, MAX_SENDS, MAX_TRIES, RESEND_AFTER_SECONDS } from '../one-time-code.ts';

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
    const code = await issueCode(trx, flowId, (c) => hash(flowId, c));
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
      const id = await openCodeFlow(trx, { kind: 'email_verification', citizenId: input.citizenId, interactionUid: input.interactionUid, data: { email: input.email } });
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
      const id = await openCodeFlow(trx, { kind: 'email_verification', citizenId: input.citizenId, interactionUid: null, data: { email: input.newEmail, change: true } });
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
        const checked = await consumeCode(trx, { flowId, kind: 'email_verification', typed, digest: (c) => hash(flowId, c) });
        if (!checked.ok) {
          return checked.reason === 'invalid'
            ? { ok: false, code: 'email_code.invalid', triesLeft: checked.triesLeft }
            : { ok: false, code: `email_code.${checked.reason}` };
        }
        const { citizenId } = checked;
        const email = String(checked.data.email);
        if (checked.data.change) {
          // The new address is proven: it replaces the old one (profile change event for the
          // services), then counts as verified.
          const citizen = await createCitizenStore(trx).findById(citizenId);
          if (!citizen) return { ok: false, code: 'email_code.unknown' };
          const taken = await takenKinds(trx, [{ kind: 'email', value: email }], citizenId);
          if (taken.has('email')) return { ok: false, code: 'register.email_taken' };
          await writeProfile(trx, citizen, { email });
        }
        // Only the address the code went to: if it changed meanwhile, nothing is verified.
        const verified = await createCitizenStore(trx).markEmailVerified(citizenId, trx, email);
        if (verified) await recordEvent(trx, { type: 'email.verified', citizenId, email });
        return { ok: true, citizenId };
      });
    },

    /** A new code (the old one stops working); limited in count and frequency. */
    async resend(flowId: string, t: Translate): Promise<'sent' | 'email_code.wait' | 'email_code.send_limit' | 'email_code.unknown'> {
      return db.transaction().execute(async (trx) => {
        const allowed = await allowResend(trx, flowId, 'email_verification');
        if (!allowed.ok) return `email_code.${allowed.reason}` as const;
        await sendCode(trx, flowId, String(allowed.data.email), t);
        return 'sent';
      });
    },
  };
}

export type EmailCodeMethod = ReturnType<typeof createEmailCodeMethod>;
