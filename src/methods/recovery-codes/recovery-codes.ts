import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import type { Secrets } from '../../security/secrets.ts';
import { randomId, safeEqual } from '../../security/secrets.ts';
import type { SignInMethod } from '../method.ts';

/**
 * Saved recovery codes (NIST SP 800-63B-4's look-up secrets, the recovery no channel can intercept):
 * ten single-use codes of 80 bits each, shown once when generated, stored as keyed digests (at 80
 * bits a slow hash adds nothing a keyed one lacks, decision 22) in the citizen's one
 * `recovery_codes` credential. Generating new ones replaces the set: the old codes stop working.
 *
 * For other parts (a second sign-in step): `consumeRecoveryCode(db, secrets, citizenId, typed)`.
 */
export const RECOVERY_CODE_COUNT = 10;
/** Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 16 characters of base32: 80 bits. */
const LENGTH = 16;

/** `K7QF-M2XD-9RTA-WP3H` from 10 random bytes. */
function newCode(): string {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let out = '';
  for (let i = 0; i < LENGTH; i++) out += ALPHABET[Number((bits >> BigInt(5 * (LENGTH - 1 - i))) & 31n)];
  return out.match(/.{4}/g)!.join('-');
}

/**
 * What was typed, as stored: upper case, without spaces or dashes, O read as 0 and I or L as 1
 * (Crockford). Undefined when it cannot be a code (wrong length or characters).
 */
export function normaliseRecoveryCode(typed: string): string | undefined {
  if (typed.length > 64) return undefined;
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (s.length !== LENGTH) return undefined;
  for (const ch of s) if (!ALPHABET.includes(ch)) return undefined;
  return s;
}

/** Bound to the account: the same code on two accounts has two digests. */
const digestOf = (secrets: Secrets, citizenId: string, normalised: string) =>
  secrets.digest('recovery-code', `${citizenId}\0${normalised}`);

type Stored = { codes: string[]; total: number; generatedAt: string };

export type RecoveryCodeUse = { ok: true; left: number } | { ok: false };

/**
 * Spends `typed` if it is one of the account's unused codes: the row is locked, so a code used twice
 * at once works once. The same reads and digest for nobody's (`citizenId` null) or a malformed code.
 * Runs in `trx` when given (it then commits with the caller's change).
 */
export async function consumeRecoveryCode(
  db: Db,
  secrets: Secrets,
  citizenId: string | null,
  typed: string,
  trx?: Db,
): Promise<RecoveryCodeUse> {
  const run = async (t: Db): Promise<RecoveryCodeUse> => {
    const normalised = normaliseRecoveryCode(typed) ?? '';
    const digest = digestOf(secrets, citizenId ?? '', normalised);
    const row = await t
      .selectFrom('credentials')
      .select(['id', 'data'])
      .where('citizen_id', '=', citizenId ?? '')
      .where('type', '=', 'recovery_codes')
      .forUpdate()
      .executeTakeFirst();
    const stored = (row?.data ?? { codes: [] }) as Partial<Stored>;
    const codes = Array.isArray(stored.codes) ? stored.codes : [];
    let found = -1;
    for (const [i, c] of codes.entries()) if (safeEqual(c, digest) && found < 0) found = i;
    if (!row || !normalised || found < 0) return { ok: false };
    const left = codes.filter((_, i) => i !== found);
    await t
      .updateTable('credentials')
      .set({
        data: JSON.stringify({ ...stored, codes: left }),
        last_used_at: sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', row.id)
      .execute();
    return { ok: true, left: left.length };
  };
  return trx ? run(trx) : db.transaction().execute(run);
}

export function createRecoveryCodes(deps: { db: Db; secrets: Secrets }) {
  const { db, secrets } = deps;
  return {
    /** Ten new codes, replacing any the account had; returned once, never stored in clear. */
    async generate(citizenId: string, trx: Db = db): Promise<string[]> {
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
      const data: Stored = {
        codes: codes.map((c) => digestOf(secrets, citizenId, normaliseRecoveryCode(c)!)),
        total: codes.length,
        generatedAt: new Date().toISOString(),
      };
      const updated = await trx
        .updateTable('credentials')
        .set({ data: JSON.stringify(data), secret: null, last_used_at: null, updated_at: sql<Date>`now()` })
        .where('citizen_id', '=', citizenId)
        .where('type', '=', 'recovery_codes')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0)
        await trx
          .insertInto('credentials')
          .values({
            id: randomId(18),
            citizen_id: citizenId,
            type: 'recovery_codes',
            secret: null,
            data: JSON.stringify(data),
          })
          .execute();
      return codes;
    },

    /** How many codes are left of how many, and since when; undefined when none were generated. */
    async status(citizenId: string, trx: Db = db) {
      const row = await trx
        .selectFrom('credentials')
        .select(['data', 'last_used_at'])
        .where('citizen_id', '=', citizenId)
        .where('type', '=', 'recovery_codes')
        .executeTakeFirst();
      if (!row) return undefined;
      const s = row.data as Partial<Stored>;
      return {
        left: Array.isArray(s.codes) ? s.codes.length : 0,
        total: s.total ?? RECOVERY_CODE_COUNT,
        generatedAt: new Date(s.generatedAt ?? 0),
        lastUsedAt: row.last_used_at,
      };
    },

    consume: (citizenId: string | null, typed: string, trx?: Db) =>
      consumeRecoveryCode(db, secrets, citizenId, typed, trx),
  };
}

export type RecoveryCodes = ReturnType<typeof createRecoveryCodes>;

/** Recorded when a recovery was proven with a saved code: something the citizen has, kept on paper. */
export const recoveryCodeMethod: SignInMethod = {
  id: 'recovery_code',
  factor: 'possession',
  amr: ['otp'],
  assurance: 'bronze',
  async has(citizen, db) {
    const row = await db
      .selectFrom('credentials')
      .select('data')
      .where('citizen_id', '=', citizen.id)
      .where('type', '=', 'recovery_codes')
      .executeTakeFirst();
    const codes = (row?.data as Partial<Stored> | undefined)?.codes;
    return Array.isArray(codes) && codes.length > 0;
  },
};
