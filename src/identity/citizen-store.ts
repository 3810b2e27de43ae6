import { isDeepStrictEqual } from 'node:util';
import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { recordEvent } from '../events/outbox.ts';
import type { Eraser } from '../platform/erasure.ts';
import { AppError } from '../platform/errors.ts';
import { randomId } from '../security/secrets.ts';
import { createCredentialStore } from './credential-store.ts';
import { type AccountKind, type CompanyValue, claimValue, FIELD_CATALOG, type FieldValue, fieldDef } from './field-catalog.ts';
import {
  addIdentifier,
  type Identifier,
  type IdentifierKey,
  type IdentifierKind,
  identifierKeys,
  identifierTaken,
  listIdentifiers,
  markIdentifierVerified,
  matchesAny,
  replacePrimaryIdentifier,
  takenKinds,
} from './identifiers.ts';
import type { CountryCode } from './phone.ts';
import { fieldsEdited } from './trust-levels.ts';

/**
 * A citizen's profile. `cpf`, `email` and `phoneNumber` are the primary values (the claims); every
 * identifier the citizen can be found by, these included, is in `identifiers` (decision 13).
 */
export type Citizen = {
  id: string;
  cpf: string | null;
  /** Null only for a foreigner who gave none: they sign in with their proven mobile number. */
  email: string | null;
  emailVerified: boolean;
  name: string;
  socialName: string | null;
  birthdate: string | null;
  phoneNumber: string | null;
  phoneNumberVerified: boolean;
  status: 'active' | 'disabled' | 'deleted';
  locale: string | null;
  /** bronze, prata or ouro (identity/trust-levels.ts). */
  trustLevel: 'bronze' | 'prata' | 'ouro';
  /** Catalog fields without a column of their own, by catalog key. */
  profile: Record<string, unknown>;
  /** Companies an e-CNPJ linked to the account, oldest first (the `companies` catalog field). */
  companies: CompanyValue[];
};

export type NewCitizen = {
  /** Digits; none for a foreigner. */
  cpf?: string | null;
  email: string | null;
  name: string;
  socialName: string | null;
  birthdate: string;
  /** E.164. */
  phoneNumber: string | null;
  /** The argon2id hash, kept as the citizen's password credential. */
  passwordHash?: string | null;
  locale: string | null;
};

/** A `citizens` row as the domain sees it (also used by queries that read the row with others). */
export function toCitizen(r: Record<string, unknown>): Citizen {
  return {
    id: r.id as string,
    cpf: r.cpf as string | null,
    email: r.email as string | null,
    emailVerified: r.email_verified as boolean,
    name: r.name as string,
    socialName: r.social_name as string | null,
    birthdate: r.birthdate as string | null,
    phoneNumber: r.phone_number as string | null,
    phoneNumberVerified: r.phone_number_verified as boolean,
    status: r.status as Citizen['status'],
    locale: r.locale as string | null,
    trustLevel: (r.trust_level as Citizen['trustLevel'] | undefined) ?? 'bronze',
    profile: (r.profile as Record<string, unknown> | undefined) ?? {},
    companies: (r.companies as CompanyValue[] | null | undefined) ?? [],
  };
}

/**
 * The companies column every read of a whole citizen adds: the `companies` catalog field lives in
 * citizen_companies, read through its primary key.
 */
export const companiesColumn = sql<CompanyValue[]>`(select coalesce(jsonb_agg(jsonb_build_object('cnpj', cc.cnpj, 'name', cc.name) order by cc.linked_at, cc.cnpj), '[]'::jsonb) from citizen_companies cc where cc.citizen_id = citizens.id)`.as('companies');

/** A foreigner: an account without a CPF (adding one later makes it a regular account). */
export function isForeign(c: Citizen): boolean {
  return !c.cpf;
}

export function accountKind(c: Citizen): AccountKind {
  return isForeign(c) ? 'foreign' : 'brazilian';
}

/**
 * Whether the account has proven a way to reach it, which signing in requires: a foreigner proved
 * their mobile number by SMS before the account existed (their e-mail, if any, is optional), and so
 * did a former foreigner without an e-mail who added a CPF later; a Brazilian account proves its
 * e-mail.
 */
export function contactProven(c: Citizen): boolean {
  return c.emailVerified || (c.phoneNumberVerified && (isForeign(c) || !c.email));
}

/** Runs `fn` in the caller's transaction, or in a new one when `db` is not one. */
function inTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

export function createCitizenStore(db: Db) {
  return {
    async findById(id: string, trx: Db = db): Promise<Citizen | undefined> {
      const row = await trx.selectFrom('citizens').selectAll().select(companiesColumn).where('id', '=', id).executeTakeFirst();
      return row ? toCitizen(row) : undefined;
    },

    /**
     * By any identifier: a CPF in any punctuation, an e-mail in any case, a proven mobile number in
     * the international form, or in the national form of `country` when the caller names one.
     */
    async findByIdentifier(
      identifier: string,
      options: { country?: CountryCode | null } = {},
    ): Promise<Citizen | undefined> {
      const keys = identifierKeys(identifier, options);
      if (keys.length === 0) return undefined;
      const row = await db
        .selectFrom('identifiers')
        .innerJoin('citizens', 'citizens.id', 'identifiers.citizen_id')
        .selectAll('citizens')
        .select(companiesColumn)
        .where(matchesAny(keys))
        // Eleven digits may be a CPF and a number of two different citizens: the CPF wins.
        .orderBy(sql`identifiers.kind = 'cpf'`, 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? toCitizen(row) : undefined;
    },

    /** Whether a CPF or an e-mail is someone's already ('' or null: not asked). */
    async taken(cpf: string | null, email: string | null): Promise<{ cpf: boolean; email: boolean }> {
      const keys: IdentifierKey[] = [];
      if (cpf) keys.push({ kind: 'cpf', value: cpf });
      if (email) keys.push({ kind: 'email', value: email });
      const kinds = await takenKinds(db, keys);
      return { cpf: kinds.has('cpf'), email: kinds.has('email') };
    },

    /**
     * Creates the citizen with their identifiers and password in one transaction (the caller's, if
     * given). `identifier.cpf_taken` / `identifier.email_taken` when another citizen holds one.
     */
    async create(input: NewCitizen, trx: Db = db): Promise<Citizen> {
      return inTransaction(trx, async (t) => {
        try {
          const row = await t
            .insertInto('citizens')
            .values({
              id: randomId(18),
              cpf: input.cpf ?? null,
              email: input.email,
              name: input.name,
              social_name: input.socialName,
              birthdate: input.birthdate,
              phone_number: input.phoneNumber,
              locale: input.locale,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          const citizen = toCitizen(row);
          if (citizen.cpf) await addIdentifier(t, citizen.id, { kind: 'cpf', value: citizen.cpf });
          if (citizen.email) await addIdentifier(t, citizen.id, { kind: 'email', value: citizen.email });
          if (citizen.phoneNumber)
            await addIdentifier(t, citizen.id, { kind: 'phone', value: citizen.phoneNumber });
          if (input.passwordHash)
            await createCredentialStore(t).set(citizen.id, 'password', { secret: input.passwordHash }, t);
          return citizen;
        } catch (error) {
          throw identifierTaken(error) ?? error;
        }
      });
    },

    /**
     * Marks the citizen's e-mail proven (only if it is still `email`, when given); returns whether
     * it changed, so the caller tells the services once.
     */
    async markEmailVerified(id: string, trx: Db = db, email?: string): Promise<boolean> {
      return inTransaction(trx, async (t) => {
        let update = t
          .updateTable('citizens')
          .set({ email_verified: true, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .where('email_verified', '=', false);
        if (email !== undefined) update = update.where('email', '=', email);
        const row = await update.returning('email').executeTakeFirst();
        if (!row?.email) return false;
        await markIdentifierVerified(t, id, { kind: 'email', value: row.email });
        return true;
      });
    },

    /**
     * Marks the citizen's mobile number proven, if it is still `phone`. A number proven by another
     * account is refused (`taken`): it signs that account in, and stays with it until it is
     * removed there.
     */
    async markPhoneVerified(
      id: string,
      phone: string,
      trx: Db = db,
    ): Promise<'verified' | 'unchanged' | 'taken'> {
      return inTransaction(trx, async (t) => {
        if ((await takenKinds(t, [{ kind: 'phone', value: phone }], id)).has('phone')) return 'taken';
        const updated = await t
          .updateTable('citizens')
          .set({ phone_number_verified: true, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .where('phone_number', '=', phone)
          .where('phone_number_verified', '=', false)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) return 'unchanged';
        try {
          await markIdentifierVerified(t, id, { kind: 'phone', value: phone });
        } catch (error) {
          throw identifierTaken(error) ?? error;
        }
        return 'verified';
      });
    },

    /** Every identifier the citizen can be found by, the primary ones included. */
    async identifiers(id: string, trx: Db = db): Promise<Identifier[]> {
      return listIdentifiers(trx, id);
    },

    /**
     * Adds an identifier beside the primary ones (a second e-mail, a second mobile);
     * `identifier.<kind>_taken` when another citizen holds it.
     */
    async addIdentifier(
      id: string,
      key: IdentifierKey & { verified?: boolean },
      trx: Db = db,
    ): Promise<void> {
      await addIdentifier(trx, id, key);
    },
  };
}

export type CitizenStore = ReturnType<typeof createCitizenStore>;

const COLUMNS: Record<string, keyof Citizen> = {
  name: 'name',
  social_name: 'socialName',
  birthdate: 'birthdate',
  cpf: 'cpf',
  email: 'email',
  phone_number: 'phoneNumber',
  locale: 'locale',
};
const COLUMN_NAMES: Record<string, string> = {
  name: 'name',
  social_name: 'social_name',
  birthdate: 'birthdate',
  cpf: 'cpf',
  email: 'email',
  phone_number: 'phone_number',
  locale: 'locale',
};

/** Catalog fields whose value is also an identifier of the citizen. */
const PRIMARY_IDENTIFIERS: [string, IdentifierKind][] = [
  ['cpf', 'cpf'],
  ['email', 'email'],
  ['phone_number', 'phone'],
];

/**
 * The citizen as stored now, locked until the caller's transaction ends: every read-modify-write
 * of a profile starts here, so two writers never work from the same stale copy.
 */
export async function lockCitizen(trx: Db, id: string): Promise<Citizen | undefined> {
  const row = await trx.selectFrom('citizens').selectAll().select(companiesColumn).where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toCitizen(row) : undefined;
}

/** The citizen's current value of each catalog field they have. */
export function profileValues(c: Citizen): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const def of FIELD_CATALOG) {
    const value =
      def.key === 'trust_level'
        ? c.trustLevel
        : def.key === 'companies'
          ? c.companies.length
            ? c.companies
            : undefined
          : def.storage === 'column'
            ? c[COLUMNS[def.key]!]
            : c.profile[def.key];
    if (value !== null && value !== undefined && value !== '') out[def.key] = value as FieldValue;
  }
  return out;
}

/**
 * Writes catalog field values (null clears one) inside the caller's transaction, with the event
 * that tells the consented services, and returns the keys whose value really changed.
 * `originClientId`: the service that wrote them (write-back), which gets no echo.
 */
export async function writeProfile(
  trx: Db,
  citizen: Citizen,
  changes: Record<string, FieldValue | null>,
  origin: { clientId?: string | null } = {},
): Promise<string[]> {
  const current = profileValues(citizen);
  const changed: string[] = [];
  const columns: Record<string, unknown> = {};
  const profile = { ...citizen.profile };
  for (const [key, value] of Object.entries(changes)) {
    const def = fieldDef(key);
    if (!def) throw new AppError('field.unknown', 400, { field: key });
    // The account's level and companies come from their own records, never from a profile write.
    if (def.storage === 'derived') throw new AppError('field.not_editable', 400, { field: key });
    // Values, not serialisations: PostgreSQL keeps jsonb keys in its own order, so the stored
    // address never serialises like the one just parsed.
    if (isDeepStrictEqual(current[key] ?? null, value ?? null)) continue;
    changed.push(key);
    if (def.storage === 'column') columns[COLUMN_NAMES[key]!] = value;
    else if (value === null) delete profile[key];
    else profile[key] = value;
  }
  if (changed.length === 0) return changed;
  if (changed.includes('email')) columns.email_verified = false;
  if (changed.includes('phone_number')) columns.phone_number_verified = false;
  try {
    await trx
      .updateTable('citizens')
      .set({ ...(columns as object), profile: JSON.stringify(profile), updated_at: sql<Date>`now()` })
      .where('id', '=', citizen.id)
      .execute();
    // The primary values are identifiers too: the old one goes, the new one is not yet proven.
    for (const [key, kind] of PRIMARY_IDENTIFIERS) {
      if (!changed.includes(key)) continue;
      const previous = citizen[COLUMNS[key]!] as string | null;
      await replacePrimaryIdentifier(
        trx,
        citizen.id,
        kind,
        previous,
        (changes[key] as string | null) ?? null,
      );
    }
  } catch (error) {
    throw identifierTaken(error) ?? error;
  }
  const values = Object.fromEntries(changed.map((k) => [k, changes[k] ?? null]));
  await recordEvent(trx, {
    type: 'profile.changed',
    citizenId: citizen.id,
    values,
    originClientId: origin.clientId ?? null,
  });
  await fieldsEdited(trx, citizen.id, changed);
  return changed;
}

/** Claims for a set of catalog fields (OIDC names; e-mail and phone carry their _verified). */
export function claimsFor(c: Citizen, fields: Iterable<string>): Record<string, unknown> {
  const values = profileValues(c);
  const out: Record<string, unknown> = { sub: c.id };
  for (const key of fields) {
    const def = fieldDef(key);
    const value = values[key];
    if (!def || value === undefined) continue;
    out[def.claim] = claimValue(def, value);
    if (key === 'email') out.email_verified = c.emailVerified;
    if (key === 'phone_number') out.phone_number_verified = c.phoneNumberVerified;
  }
  return out;
}

/**
 * Blanks the account row: it stays as a tombstone (its id, the OIDC `sub`, is never given to anyone
 * else), with nothing left that says who it was.
 */
export const profileEraser: Eraser = {
  name: 'identity/profile',
  erases: { citizens: 'blanked' },
  async erase(trx, citizenId) {
    await trx
      .updateTable('citizens')
      .set({
        cpf: null,
        email: `${citizenId}@deleted.invalid`,
        email_verified: false,
        name: '',
        social_name: null,
        birthdate: null,
        phone_number: null,
        phone_number_verified: false,
        locale: null,
        profile: '{}',
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', citizenId)
      .execute();
  },
};
