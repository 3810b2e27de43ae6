import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import type { Eraser } from '../../platform/erasure.ts';
import { randomId, safeEqual, sixDigitCode } from '../../security/secrets.ts';

/**
 * The rows behind every one-time code (the `flows` table): a 6-digit code valid 10 minutes, single
 * use, at most 5 wrong tries for the whole flow (a resend draws a new code but keeps the count), at
 * most 5 sends. Only a keyed digest of the code is stored. Only `code-mechanism.ts` uses this file.
 */
export const CODE_TTL_SECONDS = 10 * 60;
export const MAX_TRIES = 5;
export const MAX_SENDS = 5;
export const RESEND_AFTER_SECONDS = 30;

export type StoredCode = {
  id: string;
  purpose: string;
  citizenId: string | null;
  interactionUid: string | null;
  state: string;
  data: Record<string, unknown>;
};

export type Consumed =
  | { ok: true; citizenId: string | null; data: Record<string, unknown> }
  | { ok: false; reason: 'invalid'; triesLeft: number }
  | { ok: false; reason: 'unknown' | 'too_many' | 'expired' };

export async function openCode(
  trx: Db,
  input: { purpose: string; citizenId: string | null; interactionUid: string | null; data: Record<string, unknown>; ttlSeconds?: number },
): Promise<string> {
  const id = randomId();
  const ttl = input.ttlSeconds ?? CODE_TTL_SECONDS;
  await trx
    .insertInto('flows')
    .values({
      id,
      kind: input.purpose,
      state: 'code_sent',
      citizen_id: input.citizenId,
      interaction_uid: input.interactionUid,
      code_hash: null,
      // The lifetime stays with the flow: a resent code lives as long as the first.
      data: JSON.stringify({ ...input.data, ttl, sends: 1, lastSentAt: Date.now() }),
      expires_at: new Date(Date.now() + ttl * 1000),
    })
    .execute();
  return id;
}

/**
 * Closes the open codes of a purpose for a citizen, or for an interaction when there is no citizen
 * yet (a new one replaces them).
 */
export async function closeOpenCodes(trx: Db, citizenId: string | null, purpose: string, interactionUid?: string | null): Promise<void> {
  if (citizenId === null && !interactionUid) return;
  let query = trx
    .updateTable('flows')
    .set({ state: 'done', code_hash: null, updated_at: sql<Date>`now()` })
    .where('citizen_id', citizenId === null ? 'is' : '=', citizenId)
    .where('kind', '=', purpose)
    .where('state', '!=', 'done');
  if (interactionUid !== undefined) query = query.where('interaction_uid', interactionUid === null ? 'is' : '=', interactionUid);
  await query.execute();
}

/**
 * Draws a new code (the previous one stops working) and returns it to be sent. The count of wrong
 * tries is the flow's, not the code's: resending never gives an attacker more guesses.
 */
export async function drawCode(trx: Db, id: string, digest: (code: string) => string, ttlSeconds = CODE_TTL_SECONDS): Promise<string> {
  const code = sixDigitCode();
  await trx
    .updateTable('flows')
    .set({
      code_hash: digest(code),
      expires_at: sql<Date>`now() + make_interval(secs => ${ttlSeconds})`,
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', id)
    .execute();
  return code;
}

/** Checks a typed code: a right one closes the flow (single use), a wrong one counts a try. */
export async function consumeCode(
  trx: Db,
  input: { id: string; purpose: string; typed: string; digest: (code: string) => string },
): Promise<Consumed> {
  const flow = await trx
    .selectFrom('flows')
    .select(['citizen_id', 'state', 'code_hash', 'attempts', 'expires_at', 'data'])
    .where('id', '=', input.id)
    .where('kind', '=', input.purpose)
    .forUpdate()
    .executeTakeFirst();
  if (!flow || flow.state === 'done') return { ok: false, reason: 'unknown' };
  if (flow.attempts >= MAX_TRIES) return { ok: false, reason: 'too_many' };
  if (new Date(flow.expires_at).getTime() < Date.now()) return { ok: false, reason: 'expired' };
  const code = input.typed.replace(/\s/g, '');
  if (/^\d{6}$/.test(code) && flow.code_hash && safeEqual(input.digest(code), flow.code_hash)) {
    await trx
      .updateTable('flows')
      .set({ state: 'done', code_hash: null, updated_at: sql<Date>`now()` })
      .where('id', '=', input.id)
      .execute();
    return { ok: true, citizenId: flow.citizen_id, data: flow.data };
  }
  const attempts = flow.attempts + 1;
  await trx.updateTable('flows').set({ attempts }).where('id', '=', input.id).execute();
  if (attempts >= MAX_TRIES) return { ok: false, reason: 'too_many' };
  return { ok: false, reason: 'invalid', triesLeft: MAX_TRIES - attempts };
}

/** Whether another code may be sent for the flow now; counts the send when it may. */
export async function allowResend(
  trx: Db,
  id: string,
  purpose: string,
): Promise<
  { ok: true; citizenId: string | null; data: Record<string, unknown> } | { ok: false; reason: 'unknown' | 'wait' | 'send_limit' | 'too_many' }
> {
  const flow = await trx
    .selectFrom('flows')
    .select(['state', 'data', 'attempts', 'citizen_id'])
    .where('id', '=', id)
    .where('kind', '=', purpose)
    .forUpdate()
    .executeTakeFirst();
  if (!flow || flow.state === 'done') return { ok: false, reason: 'unknown' };
  // A flow whose tries are spent stays spent: a new code would be a new set of guesses.
  if (flow.attempts >= MAX_TRIES) return { ok: false, reason: 'too_many' };
  const data = flow.data as { sends: number; lastSentAt: number };
  if (data.sends >= MAX_SENDS) return { ok: false, reason: 'send_limit' };
  if (Date.now() - data.lastSentAt < RESEND_AFTER_SECONDS * 1000) return { ok: false, reason: 'wait' };
  const next = { ...flow.data, sends: data.sends + 1, lastSentAt: Date.now() };
  await trx.updateTable('flows').set({ data: JSON.stringify(next) }).where('id', '=', id).execute();
  return { ok: true, citizenId: flow.citizen_id, data: next };
}

export async function findOpenCode(
  db: Db,
  where: { purpose: string; citizenId?: string; interactionUid?: string | null },
): Promise<StoredCode | undefined> {
  let query = db
    .selectFrom('flows')
    .select(['id', 'kind', 'citizen_id', 'interaction_uid', 'state', 'data'])
    .where('kind', '=', where.purpose)
    .where('state', '!=', 'done');
  if (where.citizenId) query = query.where('citizen_id', '=', where.citizenId);
  if (where.interactionUid !== undefined) {
    query = query.where('interaction_uid', where.interactionUid === null ? 'is' : '=', where.interactionUid);
  }
  const row = await query.orderBy('created_at', 'desc').executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    purpose: row.kind,
    citizenId: row.citizen_id,
    interactionUid: row.interaction_uid,
    state: row.state,
    data: row.data,
  };
}

/** Codes are personal data (the address they went to): an account's purge takes them. */
export async function eraseCodes(trx: Db, citizenId: string): Promise<void> {
  await trx.deleteFrom('flows').where('citizen_id', '=', citizenId).execute();
}

/** The code rows (flows) go with the account: each names the address its code went to. */
export const codesEraser: Eraser = {
  name: 'methods/code',
  erases: { flows: 'deleted' },
  erase: eraseCodes,
};
