import type { Db } from '../../db/database.ts';
import { recordEvent } from '../../events/outbox.ts';
import { createCitizenStore } from '../../identity/citizen-store.ts';
import type { RateLimiter } from '../../platform/rate-limit.ts';
import type { Translate } from '../../platform/i18n.ts';
import { enqueueSms } from '../../messaging/message-queue.ts';
import type { Secrets } from '../../security/secrets.ts';
import { allowResend, CODE_TTL_SECONDS, consumeCode, issueCode, openCodeFlow } from '../one-time-code.ts';

export type SmsVerifyResult =
  | { ok: true }
  | { ok: false; code: 'email_code.invalid'; triesLeft: number }
  | { ok: false; code: 'email_code.expired' | 'email_code.too_many' | 'email_code.unknown' | 'identifier.phone_taken' };

/** SMS cost money and reach a person's phone: per citizen and per number, few per day. */
export const SMS_LIMITS = {
  perCitizen: { name: 'sms-citizen', limit: 5, windowSeconds: 24 * 3600 },
  perNumber: { name: 'sms-number', limit: 5, windowSeconds: 24 * 3600 },
};

/**
 * Proves the citizen holds their mobile number with a 6-digit code by SMS (same rules as the
 * e-mail code). A verified number is told to the services that receive it.
 */
export function createSmsCodeMethod(deps: { db: Db; secrets: Secrets; limiter: RateLimiter }) {
  const { db, secrets, limiter } = deps;
  const digest = (flowId: string) => (code: string) => secrets.digest('sms-code', `${flowId}:${code}`);

  async function send(trx: Db, flowId: string, phone: string, t: Translate) {
    const code = await issueCode(trx, flowId, digest(flowId));
    await enqueueSms(trx, { to: phone, text: t('sms.phone_code', { code, minutes: CODE_TTL_SECONDS / 60 }) });
  }

  async function allowed(citizenId: string, phone: string): Promise<Date | null> {
    for (const [rule, subject] of [
      [SMS_LIMITS.perCitizen, citizenId],
      [SMS_LIMITS.perNumber, secrets.digest('sms-number', phone)],
    ] as const) {
      const hit = await limiter.hit(rule, subject);
      if (!hit.allowed) return hit.retryAt;
    }
    return null;
  }

  return {
    /** Sends a code to the citizen's current number; null when sent, else when it may be tried again. */
    async start(input: { citizenId: string; phone: string; t: Translate }): Promise<{ flowId: string } | { retryAt: Date }> {
      const blocked = await allowed(input.citizenId, input.phone);
      if (blocked) return { retryAt: blocked };
      return db.transaction().execute(async (trx) => {
        await trx
          .updateTable('flows')
          .set({ state: 'done', code_hash: null })
          .where('citizen_id', '=', input.citizenId)
          .where('kind', '=', 'phone_verification')
          .where('state', '!=', 'done')
          .execute();
        const flowId = await openCodeFlow(trx, { kind: 'phone_verification', citizenId: input.citizenId, interactionUid: null, data: { phone: input.phone } });
        await send(trx, flowId, input.phone, input.t);
        return { flowId };
      });
    },

    async pending(citizenId: string) {
      const flow = await db
        .selectFrom('flows')
        .select(['id', 'data'])
        .where('citizen_id', '=', citizenId)
        .where('kind', '=', 'phone_verification')
        .where('state', '!=', 'done')
        .orderBy('created_at', 'desc')
        .executeTakeFirst();
      return flow ? { id: flow.id, phone: String((flow.data as { phone?: string }).phone) } : undefined;
    },

    async verify(flowId: string, typed: string): Promise<SmsVerifyResult> {
      return db.transaction().execute(async (trx) => {
        const checked = await consumeCode(trx, { flowId, kind: 'phone_verification', typed, digest: digest(flowId) });
        if (!checked.ok) {
          return checked.reason === 'invalid'
            ? { ok: false, code: 'email_code.invalid', triesLeft: checked.triesLeft }
            : { ok: false, code: `email_code.${checked.reason}` as const };
        }
        const phone = String(checked.data.phone);
        // Only the number the code went to: if it changed meanwhile, nothing is verified.
        const marked = await createCitizenStore(trx).markPhoneVerified(checked.citizenId, phone, trx);
        if (marked === 'taken') return { ok: false, code: 'identifier.phone_taken' };
        if (marked === 'verified') {
          await recordEvent(trx, { type: 'phone.verified', citizenId: checked.citizenId, phone });
        }
        return { ok: true };
      });
    },

    async resend(flowId: string, citizenId: string, t: Translate): Promise<'sent' | 'email_code.wait' | 'email_code.send_limit' | 'email_code.unknown' | 'sms.limited'> {
      const flow = await this.pending(citizenId);
      if (!flow || flow.id !== flowId) return 'email_code.unknown';
      if (await allowed(citizenId, flow.phone)) return 'sms.limited';
      return db.transaction().execute(async (trx) => {
        const ok = await allowResend(trx, flowId, 'phone_verification');
        if (!ok.ok) return `email_code.${ok.reason}` as const;
        await send(trx, flowId, flow.phone, t);
        return 'sent' as const;
      });
    },
  };
}

export type SmsCodeMethod = ReturnType<typeof createSmsCodeMethod>;
