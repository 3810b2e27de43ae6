import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestPki, PEOPLE, type TestPki } from '../fixtures/test-pki.ts';
import { type CertificateApp, handoffFrom, presentOverTls, startCertificateApp } from '../helpers/certificates.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, answerConsent, authorizationRequest, exchange, type TestService, UserAgent } from '../helpers/journeys.ts';
import { formAction } from '../helpers/user-agent.ts';

// A service that requires ouro: a citizen who signs in with a password only is offered the step-up
// (the certificate) instead of a refusal; after it the service receives acr=ouro and the fields the
// certificate confirmed as verified_claims (OpenID Connect for Identity Assurance, icp_brasil).

let pki: TestPki;
let app: CertificateApp;
let gold: TestService;
let bronze: TestService;
let citizen: Awaited<ReturnType<typeof seedCitizen>>;

before(async () => {
  pki = await createTestPki();
  app = await startCertificateApp(pki);
  gold = await addService(app, { minTrustLevel: 'ouro' });
  bronze = await addService(app);
  citizen = await seedCitizen(app.db.db, { cpf: PEOPLE.holder.cpf, name: 'Maria da Silva Teste', birthdate: PEOPLE.holder.birthdate });
});
after(async () => {
  await app?.stop();
  pki?.remove();
});

test('a password-only citizen at a service requiring ouro is offered the certificate, and after it the service gets acr=ouro and verified_claims', async () => {
  const ua = new UserAgent({ 'accept-language': 'pt-BR' });
  const auth = await authorizationRequest(gold);
  const login = await ua.get(auth.url.href, gold.redirectUri);
  const offered = await ua.post(formAction(login, '/login'), { identifier: citizen.cpf, password: citizen.password }, gold.redirectUri);
  assert.equal(offered.status, 200, 'an offer, not a refusal');
  assert.ok(offered.html.includes('Este serviço pede o nível ouro'), offered.html.slice(0, 1500));
  assert.doesNotMatch(offered.url, /code=/);
  const link = offered.html.match(/href="(\/interaction\/[^"]+\/certificate)"/)?.[1];
  assert.ok(link, 'the step-up offers the certificate');

  const certPage = await ua.get(new URL(link, offered.url).href);
  const { action, handoff } = handoffFrom(certPage);
  const answer = await presentOverTls(action, handoff, pki.certs['ecpf-a3-octet'], app.serverCertPem);
  const consent = await ua.get(answer.location!, gold.redirectUri);
  // The optional birth date is shared only when the citizen ticks it (consent is opt-in).
  const callback = await answerConsent(ua, consent, gold, true, { share_birthdate: 'yes' });
  const tokens = await exchange(gold, auth, callback.url);
  const claims = tokens.claims()!;
  assert.equal(claims.sub, citizen.id);
  assert.equal(claims.acr, 'ouro');
  assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
  const verified = claims.verified_claims as { verification: { trust_framework: string; evidence: { serial_number?: string }[] }; claims: Record<string, unknown> };
  assert.equal(verified.verification.trust_framework, 'icp_brasil');
  assert.equal(verified.verification.evidence[0]!.serial_number, pki.certs['ecpf-a3-octet'].certificate.serialNumber);
  assert.deepEqual(Object.keys(verified.claims).sort(), ['birthdate', 'cpf', 'name']);
  assert.equal(verified.claims.cpf, PEOPLE.holder.cpf);
  assert.equal(claims.name, 'Maria da Silva Teste', 'the plain claims stay beside the verified ones');
});

test('acr_values=ouro per request asks the same of a service with no minimum; bronze services are untouched', async () => {
  const other = await seedCitizen(app.db.db);
  const ua = new UserAgent({ 'accept-language': 'en' });
  const auth = await authorizationRequest(bronze, { acr_values: 'ouro' });
  const login = await ua.get(auth.url.href, bronze.redirectUri);
  const offered = await ua.post(formAction(login, '/login'), { identifier: other.cpf, password: other.password }, bronze.redirectUri);
  assert.equal(offered.status, 200);
  assert.ok(offered.html.includes('This service asks for the gold level'));

  const plain = new UserAgent();
  const auth2 = await authorizationRequest(bronze, { acr_values: 'bronze prata ouro' });
  const login2 = await plain.get(auth2.url.href, bronze.redirectUri);
  const consent = await plain.post(formAction(login2, '/login'), { identifier: other.cpf, password: other.password }, bronze.redirectUri);
  const callback = await answerConsent(plain, consent, bronze);
  assert.equal((await exchange(bronze, auth2, callback.url)).claims()!.acr, 'bronze');
});

test('a bronze session coming to the ouro service is asked to sign in again (and can step up there)', async () => {
  const ua = new UserAgent();
  const auth = await authorizationRequest(bronze);
  const login = await ua.get(auth.url.href, bronze.redirectUri);
  const consent = await ua.post(formAction(login, '/login'), { identifier: citizen.cpf, password: citizen.password }, bronze.redirectUri);
  if (consent.html.includes('name="decision"')) await answerConsent(ua, consent, bronze);
  const again = await ua.get((await authorizationRequest(gold)).url.href, gold.redirectUri);
  assert.equal(again.status, 200);
  assert.match(again.url, /\/interaction\//);
  assert.match(again.html, /href="\/interaction\/[^"]+\/certificate"/);
});
