import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.ts';
import { createCitizenStore } from '../../src/identity/citizen-store.ts';
import { claimCpf } from '../../src/identity/cpf-claims.ts';
import { createPasswordHasher } from '../../src/methods/password/password-hasher.ts';
import { createAccountActions } from '../../src/personal-data.ts';
import { createI18n, isLocale } from '../../src/platform/i18n.ts';
import { createTestPki, PEOPLE, type TestPki } from '../fixtures/test-pki.ts';
import {
  type CertificateApp,
  handoffFrom,
  presentOverTls,
  startCertificateApp,
} from '../helpers/certificates.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  newCitizen,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { createTestDatabase } from '../helpers/test-database.ts';
import { formAction } from '../helpers/user-agent.ts';

// Issue 8, finding 7 (second half): squatting a CPF. Someone registers with another person's CPF and
// confirms their own e-mail; the CPF's owner, with a confirmed account of their own, proves the CPF
// later with an ICP-Brasil certificate. Before the fix the certificate found the squatter's account
// (raising it to ouro with the CPF "verified") and the owner's sign-in ended on an expired page.

const i18n = createI18n();
let pki: TestPki;
let app: CertificateApp;
let svc: TestService;

before(async () => {
  pki = await createTestPki();
  app = await startCertificateApp(pki);
  svc = await addService(app, { minTrustLevel: 'ouro', acceptsForeigners: true });
});
after(async () => {
  await app?.stop();
  pki?.remove();
});

/** A confirmed account without a CPF (a foreign account, as whoever found their CPF taken would make). */
async function accountWithoutCpf(db: Db, locale: string | null = null) {
  const data = newCitizen({ name: 'Maria da Silva Teste', birthdate: PEOPLE.holder.birthdate });
  const citizens = createCitizenStore(db);
  const { id } = await citizens.create({
    cpf: null,
    email: data.email,
    name: data.name,
    socialName: null,
    birthdate: data.birthdate,
    phoneNumber: null,
    passwordHash: await createPasswordHasher().hash(data.password),
    locale,
  });
  await citizens.markEmailVerified(id);
  return { ...data, id };
}

/** As the page writes it (the html tag escapes quotes). */
const shown = (text: string) => text.replaceAll("'", '&#39;').replaceAll('"', '&quot;');

const row = (id: string) =>
  app.db.db.selectFrom('citizens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** Signs in with the password at the ouro service, takes the step-up, presents the holder's certificate. */
async function passwordThenCertificate(identifier: string, password: string, lang = 'pt-BR') {
  const ua = new UserAgent({ 'accept-language': lang });
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const offered = await ua.post(formAction(login, '/login'), { identifier, password }, svc.redirectUri);
  const link = offered.html.match(/href="(\/interaction\/[^"]+\/certificate)"/)?.[1];
  assert.ok(link, `the step-up offers the certificate: ${offered.html.slice(0, 800)}`);
  const { action, handoff } = handoffFrom(await ua.get(new URL(link, offered.url).href));
  const answer = await presentOverTls(action, handoff, pki.certs['ecpf-a3-octet'], app.serverCertPem);
  return { ua, auth, answer };
}

describe('a confirmed account proving its CPF with a certificate wins over one that never proved it', () => {
  let squatter: Awaited<ReturnType<typeof seedCitizen>>;
  let owner: Awaited<ReturnType<typeof accountWithoutCpf>>;

  before(async () => {
    squatter = await seedCitizen(app.db.db, { cpf: PEOPLE.holder.cpf, name: 'Fulano Ocupante' });
    await app.db.db.updateTable('citizens').set({ locale: 'es' }).where('id', '=', squatter.id).execute();
    owner = await accountWithoutCpf(app.db.db);
  });

  test('the prover gets the CPF, verified, and the service receives it with acr=ouro', async () => {
    const { ua, auth, answer } = await passwordThenCertificate(owner.email, owner.password);
    assert.equal(answer.status, 303, answer.html.slice(0, 800));
    const consent = await ua.get(answer.location!, svc.redirectUri);
    const callback = await answerConsent(ua, consent, svc);
    const claims = (await exchange(svc, auth, callback.url)).claims()!;
    assert.equal(claims.sub, owner.id);
    assert.equal(claims.acr, 'ouro');
    assert.equal(claims.cpf, PEOPLE.holder.cpf);
    const verified = claims.verified_claims as { claims: Record<string, unknown> };
    assert.equal(verified.claims.cpf, PEOPLE.holder.cpf);
  });

  test('the squatting account is held: disabled, its CPF released, never raised to ouro', async () => {
    const held = await row(squatter.id);
    assert.equal(held.status, 'disabled');
    assert.equal(held.cpf, null);
    assert.equal(held.trust_level, 'bronze');
    const ids = await app.db.db
      .selectFrom('identifiers')
      .select('kind')
      .where('citizen_id', '=', squatter.id)
      .execute();
    assert.deepEqual(
      ids.map((r) => r.kind),
      ['email'],
    );
    // Its password no longer opens anything.
    const ua = new UserAgent();
    const login = await ua.get((await authorizationRequest(svc)).url.href, svc.redirectUri);
    const refused = await ua.post(
      formAction(login, '/login'),
      { identifier: squatter.email, password: squatter.password },
      svc.redirectUri,
    );
    assert.doesNotMatch(refused.url, /code=/);
    assert.ok(refused.html.includes('name="password"'), 'back at the login form: no sign-in, no step-up');
    assert.ok(
      refused.html.includes(shown(i18n.translator('pt-BR')('login.invalid'))),
      refused.html.slice(0, 1500),
    );
  });

  test('the squatter is told on its proven e-mail, in its own language, and the claim is recorded', async () => {
    const mails = await app.db.db
      .selectFrom('messages')
      .select(['subject', 'body_text'])
      .where('recipient', '=', squatter.email)
      .execute();
    const notice = mails.find((m) => m.subject === i18n.translator('es')('mail.cpf_claimed.subject'));
    assert.ok(notice, `a notice in Spanish: ${JSON.stringify(mails.map((m) => m.subject))}`);
    assert.ok(!notice.body_text?.includes(PEOPLE.holder.cpf), 'the CPF is not written in the notice');
    const claims = await app.db.db
      .selectFrom('cpf_claims')
      .selectAll()
      .where('citizen_id', '=', squatter.id)
      .execute();
    assert.equal(claims.length, 1);
    assert.equal(claims[0]!.prover_id, owner.id);
    assert.equal(claims[0]!.trust_framework, 'icp_brasil');
    const events = await sql<{
      type: string;
    }>`select type from events where citizen_id = ${squatter.id} order by id`.execute(app.db.db);
    assert.ok(
      events.rows.some((e) => e.type === 'account.disabled'),
      'its services learn it is disabled',
    );
  });

  test('afterwards the certificate alone signs the prover in (the CPF finds their account)', async () => {
    const ua = new UserAgent();
    const auth = await authorizationRequest(svc);
    const login = await ua.get(auth.url.href, svc.redirectUri);
    const link = login.html.match(/href="(\/interaction\/[^"]+\/certificate)"/)![1]!;
    const { action, handoff } = handoffFrom(await ua.get(new URL(link, login.url).href));
    const answer = await presentOverTls(action, handoff, pki.certs['ecpf-a3-octet'], app.serverCertPem);
    const next = await ua.get(answer.location!, svc.redirectUri);
    const callback = next.html.includes('name="decision"') ? await answerConsent(ua, next, svc) : next;
    assert.equal((await exchange(svc, auth, callback.url)).claims()!.sub, owner.id);
  });

  test('a third account cannot take a CPF that has been proven: a clear refusal, nothing changed', async () => {
    const third = await accountWithoutCpf(app.db.db);
    const before = await row(owner.id);
    const { answer } = await passwordThenCertificate(third.email, third.password, 'en');
    assert.equal(answer.status, 409);
    assert.ok(
      answer.html.includes(shown(i18n.translator('en')('cpf_claim.proven_elsewhere'))),
      answer.html.slice(0, 1500),
    );
    assert.equal((await row(third.id)).cpf, null);
    assert.equal((await row(third.id)).status, 'active');
    const after = await row(owner.id);
    assert.equal(after.cpf, PEOPLE.holder.cpf);
    assert.equal(after.status, 'active');
    assert.equal(String(after.updated_at), String(before.updated_at));
  });

  test('an account with another CPF presenting this certificate is refused clearly; neither account changes', async () => {
    const other = await seedCitizen(app.db.db);
    const { answer } = await passwordThenCertificate(other.cpf, other.password, 'es');
    assert.equal(answer.status, 409);
    assert.ok(
      answer.html.includes(shown(i18n.translator('es')('cpf_claim.other_cpf'))),
      answer.html.slice(0, 1500),
    );
    const mine = await row(other.id);
    assert.equal(mine.cpf, other.cpf.replace(/\D/g, ''));
    assert.equal(mine.trust_level, 'bronze');
    assert.equal((await row(owner.id)).status, 'active');
  });
});

describe('the domain function serves an in-person check as well', () => {
  test('an attendant confirming a CPF in person holds the squatter and gives the CPF, with SMS only to an enabled country', async () => {
    const database = await createTestDatabase();
    try {
      const db = database.db;
      const squatter = await seedCitizen(db);
      const cpf = squatter.cpf.replace(/\D/g, '');
      await db
        .updateTable('citizens')
        .set({ phone_number: '+5541999990001', phone_number_verified: true, locale: 'en' })
        .where('id', '=', squatter.id)
        .execute();
      const prover = await accountWithoutCpf(db);
      const accounts = createAccountActions(db);
      const deps = {
        disableIn: accounts.disableIn,
        translator: (locale: string | null) => i18n.translator(isLocale(locale) ? locale : 'pt-BR'),
        smsCountries: ['BR'],
        publicUrl: 'http://127.0.0.1:9',
      };
      const proof = {
        trustFramework: 'in_person',
        evidence: { issuer: 'Atendimento Centro', serial: 'att-17' },
      };
      const result = await db
        .transaction()
        .execute((trx) => claimCpf(trx, deps, { proverId: prover.id, cpf, proof }));
      assert.deepEqual(result, { outcome: 'claimed', held: squatter.id });
      const sms = await db
        .selectFrom('messages')
        .select('body_text')
        .where('recipient', '=', '+5541999990001')
        .execute();
      assert.deepEqual(
        sms.map((m) => m.body_text),
        [i18n.translator('en')('sms.cpf_claimed')],
      );
      const verified = await db
        .selectFrom('field_verifications')
        .selectAll()
        .where('citizen_id', '=', prover.id)
        .execute();
      assert.deepEqual(
        verified.map((v) => [v.field, v.trust_framework]),
        [['cpf', 'in_person']],
      );

      // Brazil no longer enabled: the notice goes by e-mail only.
      const second = await seedCitizen(db);
      await db
        .updateTable('citizens')
        .set({ phone_number: '+5541999990002', phone_number_verified: true })
        .where('id', '=', second.id)
        .execute();
      const prover2 = await accountWithoutCpf(db);
      await db
        .transaction()
        .execute((trx) =>
          claimCpf(
            trx,
            { ...deps, smsCountries: ['AR'] },
            { proverId: prover2.id, cpf: second.cpf.replace(/\D/g, ''), proof },
          ),
        );
      assert.equal(
        (await db.selectFrom('messages').select('id').where('recipient', '=', '+5541999990002').execute())
          .length,
        0,
      );
      assert.equal(
        (await db.selectFrom('messages').select('id').where('recipient', '=', second.email).execute()).length,
        1,
      );
    } finally {
      await database.drop();
    }
  });
});
