import type { Db } from '../../src/db/database.ts';
import { createCitizenStore } from '../../src/identity/citizen-store.ts';
import { createCredentialStore } from '../../src/identity/credential-store.ts';
import { createPasswordHasher } from '../../src/methods/password/password-hasher.ts';
import { newCitizen } from './journeys.ts';

/**
 * A confirmed citizen written through the identity store (password hashed as the app does, e-mail
 * verified), for tests about something other than registration.
 */
export async function seedCitizen(db: Db, overrides: Partial<Record<string, string>> = {}) {
  const citizen = newCitizen(overrides);
  const citizens = createCitizenStore(db);
  const { id } = await citizens.create({
    cpf: citizen.cpf.replace(/\D/g, ''),
    email: citizen.email,
    name: citizen.name,
    socialName: null,
    birthdate: citizen.birthdate,
    phoneNumber: null,
    passwordHash: await createPasswordHasher().hash(citizen.password),
    locale: null,
  });
  await citizens.markEmailVerified(id);
  return { ...citizen, id };
}

async function idByCpf(db: Db, cpf: string): Promise<string> {
  const row = await db
    .selectFrom('citizens')
    .select('id')
    .where('cpf', '=', cpf.replace(/\D/g, ''))
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The stored password hash (the credential of type password) of the citizen with this CPF. */
export async function passwordHashOf(db: Db, cpf: string): Promise<string | null> {
  return (await createCredentialStore(db).get(await idByCpf(db, cpf), 'password'))?.secret ?? null;
}

/** Replaces the password hash of the citizen with this CPF, as an older version of the app left it. */
export async function setPasswordHashOf(db: Db, cpf: string, hash: string): Promise<void> {
  await createCredentialStore(db).set(await idByCpf(db, cpf), 'password', { secret: hash });
}
