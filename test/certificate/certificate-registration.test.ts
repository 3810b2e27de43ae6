import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestPki, PEOPLE, type TestPki } from '../fixtures/test-pki.ts';
import { type CertificateApp, handoffFrom, presentOverTls, startCertificateApp } from '../helpers/certificates.ts';
import { addService, answerConsent, authorizationRequest, exchange, type TestService, UserAgent } from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';

// A certificate whose CPF has no account opens the registration filled from it: name, CPF and birth
// date locked and verified; the citizen adds e-mail and password; the account starts at ouro, and an
// e-CNPJ links its company.

let pki: TestPki;
let app: CertificateApp;
let svc: TestService;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;

before(async () => {
  pki = await createTestPki();
  smtp = await startSmtpPeer();
  app = await startCertificateApp(pki, { SMTP_URL: smtp.url });
  svc = await addService(app);
});
after(async () => {
  await app?.stop();
  await smtp?.close();
  pki?.remove();
});

test('an e-CNPJ with no account: registration filled from it, the account verified at ouro with its company', async () => {
  const ua = new UserAgent({ 'accept-language': 'pt-BR' });
  const auth = await authorizationRequest(svc, { acr_values: 'bronze prata ouro' });
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const certPage = await ua.get(new URL(login.html.match(/href="(\/interaction\/[^"]+\/certificate)"/)![1]!, login.url).href);
  const { action, handoff } = handoffFrom(certPage);
  const answer = await presentOverTls(action, handoff, pki.certs['ecnpj-a3-alphanumeric'], app.serverCertPem);
  assert.equal(answer.status, 303);
  assert.match(answer.location!, /\/register$/);

  const form = await ua.get(answer.location!);
  assert.equal(form.status, 200);
  const fields = formFields(form, '/register');
  assert.equal(fields.cpf, PEOPLE.responsible.cpf);
  assert.equal(fields.name, PEOPLE.responsible.name);
  assert.equal(fields.birthdate, PEOPLE.responsible.birthdate);
  for (const name of ['cpf', 'name', 'birthdate']) assert.match(form.html, new RegExp(`name="${name}"[^>]*readonly`), `${name} is locked`);

  // Whatever the browser sends for the locked fields, the certificate's values are kept.
  const email = `empresa.${Date.now()}@example.test`;
  const confirm = await ua.post(formAction(form, '/register'), {
    ...fields,
    cpf: PEOPLE.other.cpf,
    name: 'Outro Nome Qualquer',
    email,
    password: 'girassol azul na janela 42',
  });
  assert.match(confirm.url, /\/confirm-email$/, confirm.html.slice(0, 1500));
  const mail = await smtp.waitFor(email);
  const consent = await ua.post(formAction(confirm, '/confirm-email'), { code: codeFrom(mail) }, svc.redirectUri);
  const callback = await answerConsent(ua, consent, svc);
  const claims = (await exchange(svc, auth, callback.url)).claims()!;
  assert.equal(claims.acr, 'ouro');
  assert.ok((claims.amr as string[]).includes('hwk'), `amr ${claims.amr}`);
  assert.equal(claims.cpf, PEOPLE.responsible.cpf);
  assert.equal(claims.name, PEOPLE.responsible.name);

  const db = app.db.db;
  const citizen = await db.selectFrom('citizens').selectAll().where('id', '=', claims.sub).executeTakeFirstOrThrow();
  assert.equal(citizen.trust_level, 'ouro');
  const verified = await db.selectFrom('field_verifications').selectAll().where('citizen_id', '=', citizen.id).execute();
  assert.deepEqual(verified.map((v) => v.field).sort(), ['birthdate', 'cpf', 'name']);
  assert.equal(verified[0]!.trust_framework, 'icp_brasil');
  assert.equal((verified[0]!.evidence as { serial: string }).serial, pki.certs['ecnpj-a3-alphanumeric'].certificate.serialNumber);
  const history = await db.selectFrom('trust_level_changes').selectAll().where('citizen_id', '=', citizen.id).execute();
  assert.deepEqual(history.map((h) => [h.from_level, h.to_level, h.reason]), [['bronze', 'ouro', 'certificate']]);
  const companies = await db.selectFrom('citizen_companies').selectAll().where('citizen_id', '=', citizen.id).execute();
  assert.deepEqual(companies.map((c) => [c.cnpj, c.name]), [[PEOPLE.company.cnpj, PEOPLE.company.name]]);
  const left = await db.selectFrom('certificate_readings').select('interaction_uid').execute();
  assert.equal(left.length, 0, 'the reading is consumed by the registration');
});
