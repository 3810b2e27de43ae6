import type { Db } from '../../db/database.ts';
import type { Translate } from '../../platform/i18n.ts';
import { RATE_LIMITS, type RateLimiter, type RateLimitRule } from '../../platform/rate-limit.ts';
import type { Secrets } from '../../security/secrets.ts';
import { smsAllowed, phoneNumberCountry as smsCountry } from '../../identity/phone.ts';
import {
  allowResend,
  CODE_TTL_SECONDS,
  closeOpenCodes,
  consumeCode,
  drawCode,
  findOpenCode,
  openCode,
} from './code-store.ts';

/**
 * One mechanism for every one-time code, whatever it is for. It issues a code for a purpose to an
 * address on a channel, rate-limits the sends, checks what is typed and consumes the code, and
 * answers only "proven: this citizen holds this address on this channel, for this purpose". What
 * that proof changes (an e-mail marked verified, an address replaced, a sign-in completed) is the
 * calling flow's business.
 */
export type CodeChannel = 'email' | 'sms';

/** Why a code was sent. A code issued for one purpose never proves another. */
export type CodePurpose = 'email_confirmation' | 'email_change' | 'alternate_email' | 'phone_verification' | 'phone_change' | 'recovery' | 'phone_registration';

/**
 * Purposes whose code goes to someone who has no account yet: a foreigner proves their number
 * before the account exists (issue 12). Their proofs name no citizen; the flow keeps what it needs
 * to create the account in the code's `data`.
 */
export type AccountlessPurpose = 'phone_registration';

export type Proof<P extends CodePurpose = CodePurpose> = {
  citizenId: P extends AccountlessPurpose ? null : string;
  channel: CodeChannel;
  address: string;
  purpose: P;
  interactionUid: string | null;
  /** What the caller stored with the code when it issued it, if anything. */
  data?: Record<string, unknown>;
};

export type CodeCheck<P extends CodePurpose = CodePurpose> =
  | { ok: true; proof: Proof<P> }
  | { ok: false; code: 'code.invalid'; triesLeft: number }
  | { ok: false; code: 'code.expired' | 'code.too_many' | 'code.unknown' };

export type IssueResult =
  | { ok: true; id: string }
  | { ok: false; code: 'code.limited'; retryAt: Date }
  /** An SMS to a country not in SMS_COUNTRIES: nothing written, nothing sent. */
  | { ok: false; code: 'code.country_disabled' };

export type ResendResult = 'sent' | 'code.wait' | 'code.send_limit' | 'code.unknown' | 'code.too_many' | 'code.limited' | 'code.country_disabled';

export type PendingCode = { id: string; citizenId: string | null; address: string; channel: CodeChannel };

/** How a channel carries a code: it queues the message in the caller's transaction. */
export type CodeSender = (
  trx: Db,
  input: { to: string; code: string; minutes: number; t: Translate; purpose: CodePurpose; flowId: string },
) => Promise<void>;

/** Each channel's sends cost something or reach a person: per citizen and per address, few a day. */
const SEND_LIMITS: Record<CodeChannel, { perCitizen: RateLimitRule; perAddress: RateLimitRule; perPrefix?: RateLimitRule }> = {
  email: { perCitizen: RATE_LIMITS.emailCodesPerCitizen, perAddress: RATE_LIMITS.emailCodesPerAddress },
  sms: { perCitizen: RATE_LIMITS.smsPerCitizen, perAddress: RATE_LIMITS.smsPerNumber, perPrefix: RATE_LIMITS.smsPerPrefix },
};

/** A number's range: + country, area and first digits (E.164 less its last four digits). */
export function numberPrefix(e164: string): string {
  return e164.slice(0, Math.max(4, e164.length - 4));
}

export type CodeMetrics = { sent(channel: CodeChannel, purpose: CodePurpose): void; verified(channel: CodeChannel, purpose: CodePurpose): void };

export function createCodeMechanism(deps: {
  db: Db;
  secrets: Secrets;
  limiter: RateLimiter;
  senders: Record<CodeChannel, CodeSender>;
  /** Codes sent and proven per channel: SMS pumping shows as a collapse of the ratio. */
  metrics?: CodeMetrics;
  /**
   * SMS_COUNTRIES: the one place every SMS code passes, so no flow can send one to a country the
   * operator did not enable (registration, /conta, recovery, write-back proposals). Brazil alone
   * when not given.
   */
  smsCountries?: readonly string[];
}) {
  const { db, secrets, limiter, senders, metrics } = deps;
  const smsCountries = deps.smsCountries ?? ['BR'];
  const refusedCountry = (channel: CodeChannel, address: string) => channel === 'sms' && !smsAllowed(address, smsCountries);
  const digest = (id: string) => (code: string) => secrets.digest('one-time-code', `${id}:${code}`);

  /**
   * Counts one send to the citizen (when there is one), to the address and, for an SMS abroad, to
   * its country; the first limit reached says until when.
   */
  async function charge(trx: Db, channel: CodeChannel, citizenId: string | null, address: string): Promise<Date | null> {
    const limits = SEND_LIMITS[channel];
    const rules: [RateLimitRule, string][] = [];
    if (citizenId) rules.push([limits.perCitizen, citizenId]);
    rules.push([limits.perAddress, secrets.digest(`code-address-${channel}`, address.toLowerCase())]);
    const country = channel === 'sms' ? smsCountry(address) : null;
    if (country && country !== 'BR') rules.push([RATE_LIMITS.smsPerCountry, country]);
    if (limits.perPrefix) rules.push([limits.perPrefix, secrets.digest(`code-prefix-${channel}`, numberPrefix(address))]);
    for (const [rule, subject] of rules) {
      const hit = await limiter.hit(rule, subject, trx);
      if (!hit.allowed) return hit.retryAt;
    }
    return null;
  }

  async function send(trx: Db, id: string, purpose: CodePurpose, channel: CodeChannel, address: string, t: Translate, ttl: number, inert: boolean) {
    // An inert code proves nothing: no code is drawn (nothing typed matches) and nothing is sent.
    if (inert) return;
    const code = await drawCode(trx, id, digest(id), ttl);
    await senders[channel](trx, { to: address, code, minutes: Math.round(ttl / 60), t, purpose, flowId: id });
    metrics?.sent(channel, purpose);
  }

  return {
    /**
     * Sends a new code for the purpose inside the caller's transaction; an open code of the same
     * purpose (and interaction) stops working. Refused, with nothing written, past the send limits.
     */
    async issue(
      trx: Db,
      input: {
        purpose: CodePurpose;
        channel: CodeChannel;
        /** null only for an accountless purpose: the code goes to someone who has no account yet. */
        citizenId: string | null;
        address: string;
        interactionUid?: string | null;
        t: Translate;
        /**
         * false only for the code a brand-new account's registration sends: the address is unique
         * to that account and registration has its own per-address limit.
         */
        counted?: boolean;
        /** How long the code lives; 10 minutes unless the purpose says otherwise. */
        ttlSeconds?: number;
        /** Kept with the code and given back with its proof (an accountless flow's pending form). */
        data?: Record<string, unknown>;
        /**
         * Opens a code that nothing proves, and sends nothing, counted and limited like any other:
         * the page that follows is the same as for a real one. A registration for a number another
         * account holds uses it, so the answer does not say the number is taken (the caller tells
         * the owner instead).
         */
        inert?: boolean;
      },
    ): Promise<IssueResult> {
      if (refusedCountry(input.channel, input.address)) return { ok: false, code: 'code.country_disabled' };
      const retryAt = input.counted === false ? null : await charge(trx, input.channel, input.citizenId, input.address);
      if (retryAt) return { ok: false, code: 'code.limited', retryAt };
      const interactionUid = input.interactionUid ?? null;
      await closeOpenCodes(trx, input.citizenId, input.purpose, interactionUid);
      const inert = input.inert === true;
      const id = await openCode(trx, {
        purpose: input.purpose,
        citizenId: input.citizenId,
        interactionUid,
        data: { ...input.data, channel: input.channel, address: input.address, ...(inert ? { inert } : {}) },
        ...(input.ttlSeconds ? { ttlSeconds: input.ttlSeconds } : {}),
      });
      await send(trx, id, input.purpose, input.channel, input.address, input.t, input.ttlSeconds ?? CODE_TTL_SECONDS, inert);
      return { ok: true, id };
    },

    /** A new code for an open one, limited in frequency and count; the tries left carry over. */
    async resend(id: string, purpose: CodePurpose, t: Translate): Promise<ResendResult> {
      return db.transaction().execute(async (trx) => {
        const allowed = await allowResend(trx, id, purpose);
        if (!allowed.ok) return `code.${allowed.reason}` as const;
        const channel = allowed.data.channel as CodeChannel;
        const address = String(allowed.data.address);
        // The operator may have disabled the country since the code was issued.
        if (refusedCountry(channel, address)) return 'code.country_disabled';
        // SMS cost money at every send; mail only counts when a code is first issued.
        if (channel === 'sms' && (await charge(trx, channel, allowed.citizenId, address))) return 'code.limited';
        await send(trx, id, purpose, channel, address, t, Number(allowed.data.ttl) || CODE_TTL_SECONDS, allowed.data.inert === true);
        return 'sent';
      });
    },

    /** Checks a typed code, in its own transaction or the caller's. */
    async check<P extends CodePurpose>(input: { id: string; purpose: P; typed: string }, trx?: Db): Promise<CodeCheck<P>> {
      const run = async (tx: Db): Promise<CodeCheck<P>> => {
        const consumed = await consumeCode(tx, { id: input.id, purpose: input.purpose, typed: input.typed, digest: digest(input.id) });
        if (!consumed.ok) {
          return consumed.reason === 'invalid'
            ? { ok: false, code: 'code.invalid', triesLeft: consumed.triesLeft }
            : { ok: false, code: `code.${consumed.reason}` };
        }
        const flow = await tx.selectFrom('flows').select('interaction_uid').where('id', '=', input.id).executeTakeFirst();
        metrics?.verified(consumed.data.channel as CodeChannel, input.purpose);
        const { channel, address, sends: _s, lastSentAt: _l, inert: _i, ttl: _t, ...data } = consumed.data;
        return {
          ok: true,
          proof: {
            citizenId: consumed.citizenId as Proof<P>['citizenId'],
            channel: channel as CodeChannel,
            address: String(address),
            purpose: input.purpose,
            interactionUid: flow?.interaction_uid ?? null,
            ...(Object.keys(data).length ? { data } : {}),
          },
        };
      };
      return trx ? run(trx) : db.transaction().execute(run);
    },

    /** The open code of a purpose for a citizen (account pages) or an interaction (sign-in pages). */
    async pending(where: { purpose: CodePurpose; citizenId?: string; interactionUid?: string | null }): Promise<PendingCode | undefined> {
      const flow = await findOpenCode(db, where);
      if (!flow) return undefined;
      return {
        id: flow.id,
        citizenId: flow.citizenId,
        address: String(flow.data.address ?? ''),
        channel: flow.data.channel as CodeChannel,
      };
    },
  };
}

export type CodeMechanism = ReturnType<typeof createCodeMechanism>;
