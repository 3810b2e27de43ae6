import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { Eraser } from '../platform/erasure.ts';
import { randomId, safeEqual, sixDigitCode } from '../security/secrets.ts';

/**
 * The part every code method shares (e-mail, SMS): a 6-digit code valid 10 minutes, single use,
 * at most 5 tries, stored only as a keyed digest in its flow row.
 */
export const CODE_TTL_SECONDS = 10 * 60;
export const MAX_TRIES = 5;
export const MAX_SENDS = 5;
export const RESEND_AFTER_SECONDS = 30;

export type CodeRejection =
  | { ok: false; reason: 'invalid'; triesLeft: number }
  | { ok: false; reason: 'unknown' | 'too_many' | 'expired' };

export type CodeFlow = { citizenId: string; data: Record<string, unknown> };

/** Opens a code flow (its code is drawn by `issueCode`); `data` says what the code proves. */
export async function openCodeFlow(
  trx: Db,
  input: { kind: string; citizenId: string; interactionUid: string | null; data: Record<string, unknown> },
): Promise<string> {
  const id = randomId();
  await trx
    .insertInto('flows')
    .values({
      id,
      kind: input.kind,
      state: 'code_sent',
      citizen_id: input.citizenId,
      interaction_uid: input.interactionUid,
      code_hash: null,
      data: JSON.stringify({ ...input.data, sends: 1, lastSentAt: Date.now() }),
      expires_at: new Date(Date.now() + CODE_TTL_SECONDS * 1000),
    })
    .execute();
  return id;
}

/** Draws a new code for the flow (the previous one stops working) and returns it to be sent. */
export async function issueCode(trx: Db, flowId: string, digest: (code: string) => string): Promise<string> {
  const code = sixDigitCode();
  await trx
    .updateTable('flows')
    .set({
      code_hash: digest(code),
      attempts: 0,
      expires_at: sql<Date>`now() + make_interval(secs => ${CODE_TTL_SECONDS})`,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', flowId)
    .execute();
  return code;
}

/**
 * Checks a typed code inside the caller's transaction. A right code closes the flow (single use);
 * a wrong one counts a try.
 */
export async function consumeCode(
  trx: Db,
  input: { flowId: string; kind: string; typed: string; digest: (code: string) => string },
): Promise<({ ok: true } & CodeFlow) | CodeRejection> {
  const flow = await trx
    .selectFrom('flows')
    .select(['citizen_id', 'state', 'code_hash', 'attempts', 'expires_at', 'data'])
    .where('id', '=', input.flowId)
    .where('kind', '=', input.kind)
    .forUpdate()
    .executeTakeFirst();
  if (!flow || !flow.citizen_id || flow.state === 'done') return { ok: false, reason: 'unknown' };
  if (flow.attempts >= MAX_TRIES) return { ok: false, reason: 'too_many' };
  if (new Date(flow.expires_at).getTime() < Date.now()) return { ok: false, reason: 'expired' };
  const code = input.typed.replace(/\s/g, '');
  if (/^\d{6}$/.test(code) && flow.code_hash && safeEqual(input.digest(code), flow.code_hash)) {
    await trx
      .updateTable('flows')
      .set({ state: 'done', code_hash: null, updated_at: sql<Date>`now()` })
      .where('id', '=', input.flowId)
      .execute();
    return { ok: true, citizenId: flow.citizen_id, data: flow.data };
  }
  const attempts = flow.attempts + 1;
  await trx.updateTable('flows').set({ attempts }).where('id', '=', input.flowId).execute();
  if (attempts >= MAX_TRIES) return { ok: false, reason: 'too_many' };
  return { ok: false, reason: 'invalid', triesLeft: MAX_TRIES - attempts };
}

/** Whether another code may be sent for the flow now; counts the send when it may. */
export async function allowResend(
  trx: Db,
  flowId: string,
  kind: string,
): Promise<{ ok: true; data: Record<string, unknown> } | { ok: false; reason: 'unknown' | 'wait' | 'send_limit' }> {
  const flow = await trx
    .selectFrom('flows')
    .select(['state', 'data'])
    .where('id', '=', flowId)
    .where('kind', '=', kind)
    .forUpdate()
    .executeTakeFirst();
  if (!flow || flow.state === 'done') return { ok: false, reason: 'unknown' };
  const data = flow.data as { sends: number; lastSentAt: number };
  if (data.sends >= MAX_SENDS) return { ok: false, reason: 'send_limit' };
  if (Date.now() - data.lastSentAt < RESEND_AFTER_SECONDS * 1000) return { ok: false, reason: 'wait' };
  const next = { ...flow.data, sends: data.sends + 1, lastSentAt: Date.now() };
  await trx.updateTable('flows').set({ data: JSON.stringify(next) }).where('id', '=', flowId).execute();
  return { ok: true, data: next };
}

/** Code flows hold the address a code went to: they go with the account. */
export const codeFlowsEraser: Eraser = {
  name: 'methods/one-time-code',
  erases: { flows: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('flows').where('citizen_id', '=', citizenId).execute();
  },
};
