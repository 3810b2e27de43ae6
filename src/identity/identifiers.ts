import { type RawBuilder, sql } from 'kysely';
import type { Db } from '../db/database.ts';
import type { IdentifierKind } from '../db/schema.ts';
import type { Eraser } from '../platform/erasure.ts';
import { AppError } from '../platform/errors.ts';
import { normalizeCpf } from './cpf.ts';
import { type CountryCode, normalizePhone } from './phone.ts';

export type { IdentifierKind };

/**
 * What a citizen can be found by: a CPF, e-mails, mobile numbers. Values are stored normalised
 * (CPF digits, phone E.164), e-mails as typed and compared without case. A CPF or an e-mail
 * belongs to one citizen; a mobile number only once proven (migration 0010).
 */
export type Identifier = {
  kind: IdentifierKind;
  value: string;
  verified: boolean;
  verifiedAt: Date | null;
  createdAt: Date;
};

export type IdentifierKey = { kind: IdentifierKind; value: string };

/**
 * The identifiers a typed string may be, most likely first: an e-mail when it has an @; else a
 * CPF when its check digits match, and a mobile number when it reads as one. Both, for 11 digits:
 * about one in a hundred Brazilian mobile numbers also passes the CPF check. A national form of a
 * number is read only with a `country`; a number with its + prefix needs none.
 */
export function identifierKeys(
  input: string,
  options: { country?: CountryCode | null } = {},
): IdentifierKey[] {
  const value = input.trim();
  if (!value) return [];
  if (value.includes('@')) return [{ kind: 'email', value }];
  const keys: IdentifierKey[] = [];
  const cpf = normalizeCpf(value);
  if (cpf) keys.push({ kind: 'cpf', value: cpf });
  // A number with its country's digits but no + ("34 612 34 56 78") is read as international
  // when the national reading fails.
  const phone =
    normalizePhone(value, options.country ?? null) ?? (/^\d/.test(value) ? normalizePhone(`+${value}`, null) : null);
  if (phone) keys.push({ kind: 'phone', value: phone });
  return keys;
}

/**
 * The condition matching any of `keys` the way the unique indexes do (a phone only once proven).
 * Kinds are written as literals, so that each one's partial index is chosen whatever the plan.
 */
export function matchesAny(keys: IdentifierKey[]): RawBuilder<boolean> {
  const one = (key: IdentifierKey) =>
    key.kind === 'email'
      ? sql`(identifiers.kind = 'email' and lower(identifiers.value) = ${key.value.toLowerCase()})`
      : key.kind === 'phone'
        ? sql`(identifiers.kind = 'phone' and identifiers.value = ${key.value} and identifiers.verified)`
        : sql`(identifiers.kind = 'cpf' and identifiers.value = ${key.value})`;
  return sql<boolean>`(${sql.join(keys.map(one), sql` or `)})`;
}

/** Which of `keys` another citizen than `exceptCitizenId` holds. */
export async function takenKinds(
  db: Db,
  keys: IdentifierKey[],
  exceptCitizenId?: string,
): Promise<Set<IdentifierKind>> {
  if (keys.length === 0) return new Set();
  let query = db.selectFrom('identifiers').select('kind').where(matchesAny(keys));
  if (exceptCitizenId) query = query.where('citizen_id', '!=', exceptCitizenId);
  return new Set((await query.execute()).map((r) => r.kind));
}

export async function listIdentifiers(db: Db, citizenId: string): Promise<Identifier[]> {
  const rows = await db
    .selectFrom('identifiers')
    .select(['kind', 'value', 'verified', 'verified_at', 'created_at'])
    .where('citizen_id', '=', citizenId)
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    kind: r.kind,
    value: r.value,
    verified: r.verified,
    verifiedAt: r.verified_at,
    createdAt: r.created_at,
  }));
}

const TAKEN_BY_INDEX: Record<string, IdentifierKind> = {
  identifiers_cpf_key: 'cpf',
  citizens_cpf_key: 'cpf',
  identifiers_email_key: 'email',
  citizens_email_key: 'email',
  identifiers_phone_key: 'phone',
};

/** A unique violation on an identifier, as the domain error that names the kind; else undefined. */
export function identifierTaken(error: unknown): AppError | undefined {
  if ((error as { code?: string }).code !== '23505') return undefined;
  const kind = TAKEN_BY_INDEX[String((error as { constraint?: string }).constraint ?? '')];
  return kind ? new AppError(`identifier.${kind}_taken`, 409) : undefined;
}

/** Adds an identifier to a citizen; `identifier.<kind>_taken` when another citizen holds it. */
export async function addIdentifier(
  trx: Db,
  citizenId: string,
  input: IdentifierKey & { verified?: boolean },
): Promise<void> {
  try {
    await trx
      .insertInto('identifiers')
      .values({
        citizen_id: citizenId,
        kind: input.kind,
        value: input.value,
        verified: input.verified ?? false,
        verified_at: input.verified ? sql<Date>`now()` : null,
      })
      .execute();
  } catch (error) {
    throw identifierTaken(error) ?? error;
  }
}

/** Removes one of the citizen's identifiers (an e-mail in any case); returns whether it had it. */
export async function removeIdentifier(trx: Db, citizenId: string, key: IdentifierKey): Promise<boolean> {
  const result = await trx
    .deleteFrom('identifiers')
    .where('citizen_id', '=', citizenId)
    .where('kind', '=', key.kind)
    .where(sql`lower(value)`, '=', key.value.toLowerCase())
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * The primary value of a kind changed on the profile (citizens.cpf, .email, .phone_number): the old
 * one stops being an identifier, the new one is one, not yet verified (as the profile says too).
 */
export async function replacePrimaryIdentifier(
  trx: Db,
  citizenId: string,
  kind: IdentifierKind,
  previous: string | null,
  next: string | null,
): Promise<void> {
  const values = [previous, next].filter((v): v is string => !!v).map((v) => v.toLowerCase());
  if (values.length) {
    await trx
      .deleteFrom('identifiers')
      .where('citizen_id', '=', citizenId)
      .where('kind', '=', kind)
      .where(sql`lower(value)`, 'in', values)
      .execute();
  }
  if (next) await addIdentifier(trx, citizenId, { kind, value: next });
}

/** Marks the citizen's identifier proven (adding it if a direct write left it out). */
export async function markIdentifierVerified(trx: Db, citizenId: string, key: IdentifierKey): Promise<void> {
  const result = await trx
    .updateTable('identifiers')
    .set({ verified: true, verified_at: sql<Date>`coalesce(verified_at, now())` })
    .where('citizen_id', '=', citizenId)
    .where('kind', '=', key.kind)
    .where(sql`lower(value)`, '=', key.value.toLowerCase())
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) await addIdentifier(trx, citizenId, { ...key, verified: true });
}

export const identifiersEraser: Eraser = {
  name: 'identity/identifiers',
  erases: { identifiers: 'deleted' },
  async erase(trx, citizenId) {
    await trx.deleteFrom('identifiers').where('citizen_id', '=', citizenId).execute();
  },
};
