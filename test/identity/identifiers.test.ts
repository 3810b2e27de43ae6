import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  claimsFor,
  createCitizenStore,
  type NewCitizen,
  writeProfile,
} from '../../src/identity/citizen-store.ts';
import { cpfFromBase, formatCpf } from '../../src/identity/cpf.ts';
import { createCredentialStore } from '../../src/identity/credential-store.ts';
import { createLoginThrottle } from '../../src/methods/password/login-throttle.ts';
import { createPasswordHasher } from '../../src/methods/password/password-hasher.ts';
import { createPasswordSignIn } from '../../src/methods/password/password-sign-in.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import { TEST_SECRET } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

let counter = 0;
function someone(overrides: Partial<NewCitizen> = {}): NewCitizen {
  counter++;
  const base = `${Date.now() % 1_000_000}${String(counter).padStart(3, '0')}`.slice(-9);
  return {
    cpf: cpfFromBase(base),
    email: `Pessoa.${base}.${counter}@Example.test`,
    name: 'Pessoa de Teste',
    socialName: null,
    birthdate: '1990-04-05',
    phoneNumber: null,
    locale: 'pt-BR',
    ...overrides,
  };
}

/** A Portuguese mobile number (91x xxx xxx), unique within the run. */
function portugueseMobile(): { e164: string; national: string } {
  counter++;
  const digits = `91${String((Date.now() * 31 + counter * 7919) % 10_000_000).padStart(7, '0')}`;
  return {
    e164: `+351${digits}`,
    national: `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6)}`,
  };
}

describe('identifiers: a citizen is found by any of them; each belongs to one citizen', () => {
  let database: TestDatabase;
  let citizens: ReturnType<typeof createCitizenStore>;

  before(async () => {
    database = await createTestDatabase();
    citizens = createCitizenStore(database.db);
  });
  after(async () => {
    await database?.drop();
  });

  test('a CPF in any punctuation and an e-mail in any case find the citizen; both are identifiers', async () => {
    const input = someone();
    const created = await citizens.create(input);
    assert.equal((await citizens.findByIdentifier(formatCpf(input.cpf!)))?.id, created.id);
    assert.equal((await citizens.findByIdentifier(` ${input.cpf} `))?.id, created.id);
    assert.equal((await citizens.findByIdentifier(input.email!.toUpperCase()))?.id, created.id);
    assert.deepEqual(
      (await citizens.identifiers(created.id)).map((i) => [i.kind, i.value, i.verified]),
      [
        ['cpf', input.cpf, false],
        ['email', input.email, false],
      ],
    );
    assert.equal(await citizens.markEmailVerified(created.id), true);
    assert.equal(await citizens.markEmailVerified(created.id), false, 'told once');
    const email = (await citizens.identifiers(created.id)).find((i) => i.kind === 'email')!;
    assert.equal(email.verified, true);
    assert.ok(email.verifiedAt instanceof Date);
  });

  test('a citizen without a CPF can exist, be found by e-mail and be given one later', async () => {
    const input = someone({ cpf: undefined });
    const created = await citizens.create(input);
    assert.equal(created.cpf, null);
    assert.equal((await citizens.findByIdentifier(input.email!))?.id, created.id);
    assert.deepEqual(
      (await citizens.identifiers(created.id)).map((i) => i.kind),
      ['email'],
    );
    assert.equal(claimsFor(created, ['cpf', 'email']).cpf, undefined, 'no CPF claim');
    // Two citizens without a CPF do not collide.
    await citizens.create(someone({ cpf: null }));
    const cpf = cpfFromBase(String(900_000_000 + counter));
    await database.db.transaction().execute((trx) => writeProfile(trx, created, { cpf }));
    assert.equal((await citizens.findByIdentifier(cpf))?.id, created.id);
  });

  test('several e-mails: each signs in, the first stays the claim, none can be taken by another citizen', async () => {
    const input = someone();
    const created = await citizens.create(input);
    const second = `Outro.${counter}.${Date.now()}@example.test`;
    await citizens.addIdentifier(created.id, { kind: 'email', value: second });
    assert.equal((await citizens.findByIdentifier(second.toLowerCase()))?.id, created.id);
    assert.equal((await citizens.findByIdentifier(input.email!))?.id, created.id);
    assert.equal(
      (await citizens.findById(created.id))!.email,
      input.email,
      'the primary e-mail is the claim',
    );
    assert.deepEqual(await citizens.taken(null, second.toUpperCase()), { cpf: false, email: true });
    await assert.rejects(citizens.create(someone({ email: second.toUpperCase() })), {
      code: 'identifier.email_taken',
    });
    await assert.rejects(citizens.create(someone({ cpf: input.cpf })), { code: 'identifier.cpf_taken' });
    const other = await citizens.create(someone());
    await assert.rejects(citizens.addIdentifier(other.id, { kind: 'email', value: second }), {
      code: 'identifier.email_taken',
    });
    await assert.rejects(
      database.db.transaction().execute((trx) => writeProfile(trx, other, { email: second })),
      { code: 'identifier.email_taken' },
    );
    await assert.rejects(
      database.db.transaction().execute((trx) => writeProfile(trx, other, { cpf: input.cpf! })),
      { code: 'identifier.cpf_taken' },
      'a taken CPF is told as a CPF, not as an e-mail',
    );
  });

  test('changing the primary e-mail replaces its identifier; the old address finds nobody', async () => {
    const input = someone();
    const created = await citizens.create(input);
    await citizens.markEmailVerified(created.id);
    const next = `novo.${counter}.${Date.now()}@example.test`;
    await database.db
      .transaction()
      .execute(async (trx) =>
        writeProfile(trx, (await citizens.findById(created.id, trx))!, { email: next }),
      );
    assert.equal(await citizens.findByIdentifier(input.email!), undefined);
    assert.equal((await citizens.findByIdentifier(next))?.id, created.id);
    const email = (await citizens.identifiers(created.id)).filter((i) => i.kind === 'email');
    assert.deepEqual(
      email.map((i) => [i.value, i.verified]),
      [[next, false]],
    );
    assert.equal(
      await citizens.markEmailVerified(created.id, database.db, input.email!),
      false,
      'not the address it has now',
    );
    assert.equal(await citizens.markEmailVerified(created.id, database.db, next), true);
  });

  test('a mobile number signs in once proven: international form anywhere, national form with its country', async () => {
    const phone = portugueseMobile();
    const created = await citizens.create(someone({ phoneNumber: phone.e164 }));
    assert.equal(await citizens.findByIdentifier(phone.e164), undefined, 'not before it is proven');
    assert.equal(await citizens.markPhoneVerified(created.id, phone.e164), 'verified');
    assert.equal(await citizens.markPhoneVerified(created.id, phone.e164), 'unchanged');
    assert.equal((await citizens.findByIdentifier(phone.e164))?.id, created.id);
    assert.equal((await citizens.findByIdentifier(`+351 ${phone.national}`))?.id, created.id);
    assert.equal((await citizens.findByIdentifier(phone.national, { country: 'PT' }))?.id, created.id);
    assert.equal(
      await citizens.findByIdentifier(phone.national, { country: 'BR' }),
      undefined,
      'read as Brazilian it is no mobile number',
    );
    assert.equal(
      await citizens.findByIdentifier(phone.national),
      undefined,
      'no country: a national form is no number',
    );
    // Another account may declare the same number (a family's phone), but not prove it too.
    const relative = await citizens.create(someone({ phoneNumber: phone.e164 }));
    assert.equal(await citizens.markPhoneVerified(relative.id, phone.e164), 'taken');
    assert.equal((await citizens.findById(relative.id))!.phoneNumberVerified, false);
    assert.equal((await citizens.findByIdentifier(phone.e164))?.id, created.id);
  });

  test('a Brazilian mobile typed without +55 is found with country BR, even when its digits pass as a CPF', async () => {
    // 41 9xxxx-xxxx whose 11 digits also carry valid CPF check digits (about one number in a hundred).
    const digits = cpfFromBase(`419${String(Date.now() % 1_000_000).padStart(6, '0')}`);
    const created = await citizens.create(someone({ phoneNumber: `+55${digits}` }));
    assert.equal(await citizens.markPhoneVerified(created.id, `+55${digits}`), 'verified');
    const typed = `(41) ${digits.slice(2, 7)}-${digits.slice(7)}`;
    assert.equal((await citizens.findByIdentifier(typed, { country: 'BR' }))?.id, created.id);
    assert.equal((await citizens.findByIdentifier(digits, { country: 'BR' }))?.id, created.id);
  });

  test('login by phone with a country: the password flow finds the account by its proven number', async () => {
    const hasher = createPasswordHasher();
    const password = 'girassol azul na janela 42';
    const phone = portugueseMobile();
    const created = await citizens.create(
      someone({ phoneNumber: phone.e164, passwordHash: await hasher.hash(password) }),
    );
    await citizens.markPhoneVerified(created.id, phone.e164);
    const login = createPasswordSignIn({
      citizens,
      credentials: createCredentialStore(database.db),
      hasher,
      throttle: createLoginThrottle(database.db),
      secrets: createSecrets(TEST_SECRET),
    });
    const byNational = await login.attempt({
      identifier: phone.national,
      password,
      ip: '10.9.0.1',
      country: 'PT',
    });
    assert.equal(byNational.ok && byNational.citizen.id, created.id);
    const byInternational = await login.attempt({
      identifier: `+351 ${phone.national}`,
      password,
      ip: '10.9.0.2',
    });
    assert.equal(byInternational.ok && byInternational.citizen.id, created.id);
    const asBrazilian = await login.attempt({ identifier: phone.national, password, ip: '10.9.0.3' });
    assert.deepEqual(asBrazilian, { ok: false, code: 'login.invalid' });
    const wrong = await login.attempt({
      identifier: phone.e164,
      password: 'not the password at all',
      ip: '10.9.0.4',
    });
    // The account is named internally (for its security record), never in what the page shows.
    assert.deepEqual(wrong, { ok: false, code: 'login.invalid', accountId: created.id });
    const used = await createCredentialStore(database.db).get(created.id, 'password');
    assert.ok(used?.lastUsedAt instanceof Date, 'the password credential records its last use');
  });
});

describe('credentials: typed rows per citizen', () => {
  let database: TestDatabase;

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  test('the password is a credential row; set replaces it, remove removes it', async () => {
    const citizens = createCitizenStore(database.db);
    const credentials = createCredentialStore(database.db);
    const created = await citizens.create(someone({ passwordHash: '$argon2id$first' }));
    const first = await credentials.get(created.id, 'password');
    assert.equal(first?.secret, '$argon2id$first');
    assert.equal(first?.version, 1);
    const replaced = await credentials.set(created.id, 'password', { secret: '$argon2id$second' });
    assert.equal(replaced.id, first!.id, 'one password per citizen');
    assert.equal((await credentials.get(created.id, 'password'))?.secret, '$argon2id$second');
    await credentials.set(created.id, 'recovery_codes', { data: { remaining: 10 }, secret: null });
    assert.deepEqual(
      (await credentials.list(created.id)).map((c) => c.type),
      ['password', 'recovery_codes'],
    );
    assert.deepEqual((await credentials.list(created.id, 'recovery_codes'))[0]!.data, { remaining: 10 });
    assert.equal(await credentials.remove(created.id, 'password'), 1);
    assert.equal(await credentials.get(created.id, 'password'), undefined);
    const withoutPassword = await citizens.create(someone());
    assert.deepEqual(await credentials.list(withoutPassword.id), []);
  });
});
