import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { recordEvent } from '../events/outbox.ts';
import { AppError } from '../platform/errors.ts';
import { randomId } from '../security/secrets.ts';
import { normalizeCpf } from './cpf.ts';
import { claimValue, FIELD_CATALOG, type FieldValue, fieldDef } from './field-catalog.ts';
import { fieldsEdited } from './trust-levels.ts';

export type Citizen = {
  id: string;
  cpf: string | null;
  email: string;
  emailVerified: boolean;
  name: string;
  socialName: string | null;
  birthdate: string | null;
  phoneNumber: string | null;
  phoneNumberVerified: boolean;
  passwordHash: string | null;
  status: 'active' | 'disabled' | 'deleted';
  locale: string | null;
  /** bronze, prata or ouro (identity/trust-levels.ts). */
  trustLevel: 'bronze' | 'prata' | 'ouro';
  /** Catalog fields without a column of their own, by catalog key. */
  profile: Record<string, unknown>;
};

export type NewCitizen = {
  cpf: string;
  email: string;
  name: string;
  socialName: string | null;
  birthdate: string;
  phoneNumber: string | null;
  passwordHash: string;
  locale: string | null;
};

function toCitizen(r: Record<string, unknown>): Citizen {
  return {
    id: r.id as string,
    cpf: r.cpf as string | null,
    email: r.email as string,
    emailVerified: r.email_verified as boolean,
    name: r.name as string,
    socialName: r.social_name as string | null,
    birthdate: r.birthdate as string | null,
    phoneNumber: r.phone_number as string | null,
    phoneNumberVerified: r.phone_number_verified as boolean,
    passwordHash: r.password_hash as string | null,
    status: r.status as Citizen['status'],
    locale: r.locale as string | null,
    trustLevel: (r.trust_level as Citizen['trustLevel'] | undefined) ?? 'bronze',
    profile: (r.profile as Record<string, unknown> | undefined) ?? {},
  };
}

export function createCitizenStore(db: Db) {
  return {
    async findById(id: string, trx: Db = db): Promise<Citizen | undefined> {
      const row = await trx.selectFrom('citizens').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toCitizen(row) : undefined;
    },

    /** CPF (any punctuation) or e-mail (any case). */
    async findByIdentifier(identifier: string): Promise<Citizen | undefined> {
      const value = identifier.trim();
      if (!value) return undefined;
      const cpf = normalizeCpf(value);
      const query = db.selectFrom('citizens').selectAll();
      const row = cpf
        ? await query.where('cpf', '=', cpf).executeTakeFirst()
        : value.includes('@')
          ? await query.where(sql`lower(email)`, '=', value.toLowerCase()).executeTakeFirst()
          : undefined;
      return row ? toCitizen(row) : undefined;
    },

    async taken(cpf: string, email: string): Promise<{ cpf: boolean; email: boolean }> {
      const rows = await db
        .selectFrom('citizens')
        .select(['cpf', 'email'])
        .where((eb) => eb.or([eb('cpf', '=', cpf), eb(sql`lower(email)`, '=', email.toLowerCase())]))
        .execute();
      return {
        cpf: rows.some((r) => r.cpf === cpf),
        email: rows.some((r) => r.email.toLowerCase() === email.toLowerCase()),
      };
    },

    async create(input: NewCitizen, trx: Db = db): Promise<Citizen> {
      try {
        const row = await trx
          .insertInto('citizens')
          .values({
            id: randomId(18),
            cpf: input.cpf,
            email: input.email,
            name: input.name,
            social_name: input.socialName,
            birthdate: input.birthdate,
            phone_number: input.phoneNumber,
            password_hash: input.passwordHash,
            locale: input.locale,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toCitizen(row);
      } catch (error) {
        if ((error as { code?: string }).code === '23505') {
          const constraint = String((error as { constraint?: string }).constraint ?? '');
          throw new AppError(constraint.includes('email') ? 'identifier.email_taken' : 'identifier.cpf_taken', 409);
        }
        throw error;
      }
    },

    async markEmailVerified(id: string, trx: Db = db): Promise<void> {
      await trx
        .updateTable('citizens')
        .set({ email_verified: true, updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .execute();
    },

    async setPasswordHash(id: string, hash: string): Promise<void> {
      await db.updateTable('citizens').set({ password_hash: hash, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
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

/**
 * The citizen as stored now, locked until the caller's transaction ends: every read-modify-write
 * of a profile starts here, so two writers never work from the same stale copy.
 */
export async function lockCitizen(trx: Db, id: string): Promise<Citizen | undefined> {
  const row = await trx.selectFrom('citizens').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  return row ? toCitizen(row) : undefined;
}

/** The citizen's current value of each catalog field they have. */
export function profileValues(c: Citizen): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const def of FIELD_CATALOG) {
    const value = def.storage === 'column' ? c[COLUMNS[def.key]!] : c.profile[def.key];
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
    if (JSON.stringify(current[key] ?? null) === JSON.stringify(value ?? null)) continue;
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
  } catch (error) {
    if ((error as { code?: string }).code === '23505') throw new AppError('identifier.email_taken', 409);
    throw error;
  }
  const values = Object.fromEntries(changed.map((k) => [k, changes[k] ?? null]));
  await recordEvent(trx, { type: 'profile.changed', citizenId: citizen.id, values, originClientId: origin.clientId ?? null });
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
