import { sql } from 'kysely';
import type { Db } from '../db/database.ts';
import { AppError } from '../http/errors.ts';
import { randomId } from '../security/secrets.ts';
import { normalizeCpf } from './cpf.ts';

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
  status: 'active' | 'disabled';
  locale: string | null;
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
  };
}

export function createCitizenStore(db: Db) {
  return {
    async findById(id: string): Promise<Citizen | undefined> {
      const row = await db.selectFrom('citizens').selectAll().where('id', '=', id).executeTakeFirst();
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
          throw new AppError(constraint.includes('email') ? 'register.email_taken' : 'register.cpf_taken', 409);
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

/** Standard OIDC claim names where they exist; `cpf` and `social_name` for the rest. */
export function citizenClaims(c: Citizen): Record<string, unknown> {
  return {
    sub: c.id,
    name: c.name,
    ...(c.socialName ? { social_name: c.socialName } : {}),
    ...(c.birthdate ? { birthdate: c.birthdate } : {}),
    email: c.email,
    email_verified: c.emailVerified,
    ...(c.phoneNumber ? { phone_number: c.phoneNumber, phone_number_verified: c.phoneNumberVerified } : {}),
    ...(c.cpf ? { cpf: c.cpf } : {}),
    ...(c.locale ? { locale: c.locale } : {}),
  };
}
