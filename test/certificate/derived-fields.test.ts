import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestPki, PEOPLE, type TestPki } from '../fixtures/test-pki.ts';
import { type CertificateApp, handoffFrom, presentOverTls, startCertificateApp } from '../helpers/certificates.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, answerConsent, authorizationRequest, exchange, newCitizen, type TestService, UserAgent } from '../helpers/journeys.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';

// Issue 17 leftovers: the account's trust level and the companies an e-CNPJ linked are catalog fields
// a service can put in its contract. They are the city's records, not the citizen's words: released
// as claims, shown on the consent screen, never asked at registration, never editable on
// /conta/dados, refused by write-back.

let pki: TestPki;
let app: CertificateApp;
let svc: TestService;

const contract = [
  { key: 'name', required: true, purpose: 'para identificar você' },
  { key: 'trust_level', required: true, purpose: 'para saber se a identidade foi confirmada' },
  { key: 'companies', required: true, purpose: 'para emitir as guias das suas empresas' },
];

before(async () => {
  pki = await createTestPki();
  app = await startCertificateApp(pki);
  svc = await addService(app, { fields: contract });
});
after(async () => {
  await app?.stop();
  pki?.remove();
});

const WRITE = 'openid profile cidadela:write';

/** Signs in with an e-CNPJ at the service, asking write access; returns the consent page seen and the tokens. */
async function signInWithCompanyCertificate(ua: UserAgent) {
  const auth = await authorizationRequest(svc, { scope: WRITE });
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const page = await ua.get(new URL(login.html.match(/href="(\/interaction\/[^"]+\/certificate)"/)![1]!, login.url).href);
  const { action, handoff } = handoffFrom(page);
  const answer = await presentOverTls(action, handoff, pki.certs['ecnpj-a3-alphanumeric'], app.serverCertPem);
  const consent = await ua.get(answer.location!, svc.redirectUri);
  const callback = await answerConsent(ua, consent, svc);
  return { consent, tokens: await exchange(svc, auth, callback.url) };
}

describe('the level and the companies as contract fields', () => {
  let responsible: Awaited<ReturnType<typeof seedCitizen>>;
  let token: string;
  const ua = new UserAgent({ 'accept-language': 'pt-BR' });

  before(async () => {
    responsible = await seedCitizen(app.db.db, { cpf: PEOPLE.responsible.cpf, name: 'Joao Responsavel Teste', birthdate: PEOPLE.responsible.birthdate });
  });

  test('a service receives trust_level and companies through openid-client; the consent screen shows them without an input', async () => {
    const { consent, tokens } = await signInWithCompanyCertificate(ua);
    assert.ok(consent.html.includes('Nível de confiança da conta') && consent.html.includes('Ouro'), 'the level is shown with its value');
    assert.ok(consent.html.includes(PEOPLE.company.name), 'the company is shown');
    assert.doesNotMatch(consent.html, /name="f_trust_level"|name="f_companies"/, 'nothing to type');
    const claims = tokens.claims()!;
    assert.equal(claims.sub, responsible.id);
    assert.equal(claims.trust_level, 'ouro');
    assert.deepEqual(claims.companies, [{ cnpj: PEOPLE.company.cnpj, name: PEOPLE.company.name }]);
    const userinfo = await (await import('openid-client')).fetchUserInfo(svc.config, tokens.access_token, responsible.id);
    assert.equal(userinfo.trust_level, 'ouro');
    token = tokens.access_token;
  });

  test('the company linked is a profile change for services that have companies in their contract', async () => {
    const events = await app.db.db
      .selectFrom('events')
      .select('data')
      .where('citizen_id', '=', responsible.id)
      .where('type', '=', 'profile.changed')
      .execute();
    assert.ok(events.some((e) => JSON.stringify(e.data).includes(PEOPLE.company.cnpj)), JSON.stringify(events));
  });

  test('write-back refuses both fields with field.not_editable and changes nothing', async () => {
    for (const body of [{ trust_level: 'bronze' }, { companies: [{ cnpj: '11222333000181', name: 'Outra Ltda' }] }]) {
      const res = await fetch(`${app.url}/api/v1/me`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 403, JSON.stringify(body));
      const answer = (await res.json()) as { error: string; fields: Record<string, string> };
      assert.equal(answer.error, 'write_back.refused');
      assert.deepEqual(answer.fields, { [Object.keys(body)[0]!]: 'field.not_editable' });
    }
    const row = await app.db.db.selectFrom('citizens').select('trust_level').where('id', '=', responsible.id).executeTakeFirstOrThrow();
    assert.equal(row.trust_level, 'ouro');
    const companies = await app.db.db.selectFrom('citizen_companies').select('cnpj').where('citizen_id', '=', responsible.id).execute();
    assert.deepEqual(companies.map((c) => c.cnpj), [PEOPLE.company.cnpj]);
  });

  test('/conta/dados has no input for them, and posting them changes nothing', async () => {
    const form = await ua.get(`${app.url}/conta/dados`);
    assert.equal(form.status, 200);
    assert.doesNotMatch(form.html, /name="f_trust_level"|name="f_companies"/);
    const saved = await ua.post(formAction(form, '/conta/dados'), { ...formFields(form, '/conta/dados'), f_trust_level: 'bronze', f_companies: 'x' });
    assert.ok(saved.status < 400, `saved: ${saved.status}`);
    const row = await app.db.db.selectFrom('citizens').select('trust_level').where('id', '=', responsible.id).executeTakeFirstOrThrow();
    assert.equal(row.trust_level, 'ouro');
  });
});

test('a password citizen without companies: not asked to type either, receives trust_level=bronze and no companies', async () => {
  const citizen = await seedCitizen(app.db.db);
  const ua = new UserAgent({ 'accept-language': 'en' });
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const consent = await ua.post(formAction(login, '/login'), { identifier: citizen.cpf, password: citizen.password }, svc.redirectUri);
  assert.doesNotMatch(consent.html, /name="f_trust_level"|name="f_companies"/);
  assert.ok(consent.html.includes('Bronze'));
  const callback = await answerConsent(ua, consent, svc, true, { f_trust_level: 'ouro' });
  const claims = (await exchange(svc, auth, callback.url)).claims()!;
  assert.equal(claims.trust_level, 'bronze', 'a typed level is ignored');
  assert.equal(claims.companies, undefined);
});

test('registration through the service asks neither; a posted level is ignored', async () => {
  const ua = new UserAgent({ 'accept-language': 'es' });
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const form = await ua.get(new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href);
  assert.equal(form.status, 200);
  assert.doesNotMatch(form.html, /name="f_trust_level"|name="f_companies"/);
  const person = newCitizen();
  const after = await ua.post(formAction(form, '/register'), { ...person, f_trust_level: 'ouro' }, svc.redirectUri);
  assert.match(after.url, /\/confirm-email/, after.html.slice(0, 1500));
  const row = await app.db.db.selectFrom('citizens').select('trust_level').where('cpf', '=', person.cpf.replace(/\D/g, '')).executeTakeFirstOrThrow();
  assert.equal(row.trust_level, 'bronze');
});
