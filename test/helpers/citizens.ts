import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/db/database.ts';
import { createPasswordHasher } from '../../src/methods/password/password-hasher.ts';
import { newCitizen } from './journeys.ts';

/**
 * A confirmed citizen written straight into the database (password hashed as the app does, e-mail
 * verified), for tests about something other than registration.
 */
export async function seedCitizen(db: Db, overrides: Partial<Record<string, string>> = {}) {
  const citizen = newCitizen(overrides);
  const id = randomBytes(18).toString('base64url');
  await db
    .insertInto('citizens')
    .values({
      id,
      cpf: citizen.cpf.replace(/\D/g, ''),
      email: citizen.email,
      email_verified: true,
      name: citizen.name,
      social_name: null,
      birthdate: citizen.birthdate,
      phone_number: null,
      password_hash: await createPasswordHasher().hash(citizen.password),
      locale: null,
    })
    .execute();
  return { ...citizen, id };
}
