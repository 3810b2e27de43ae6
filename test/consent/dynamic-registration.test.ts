import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import * as client from 'openid-client';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  newCitizen,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';

const ADDRESS = {
  f_address_postal_code: '80010-000',
  f_address_street_address: 'Rua XV de Novembro',
  f_address_number: '100',
  f_address_complement: 'sala 2',
  f_address_neighbourhood: 'Centro',
  f_address_locality: 'Curitiba',
  f_address_region: 'PR',
  f_address_country: 'BR',
};

function claimsOf(idToken: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString());
}

describe('services declare the data they consume; consent and registration adapt', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let school: TestService;
  let health: TestService;
  const ua = new UserAgent();
  let citizen: ReturnType<typeof newCitizen>;

  const count = async (table: 'consents' | 'citizens') =>
    Number((await app.db.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url });
    school = await addService(app, {
      name: 'Matrícula escolar',
      fields: [
        { key: 'name', required: true, purpose: { 'pt-BR': 'para identificar o responsável', en: 'to identify the guardian', es: 'para identificar al responsable' } },
        { key: 'address', required: true, purpose: { 'pt-BR': 'para enviar o resultado da matrícula', en: 'to send the enrolment result', es: 'para enviar el resultado de la matrícula' } },
        { key: 'mother_name', required: false, purpose: 'para o cadastro escolar' },
      ],
    });
    health = await addService(app, {
      name: 'Saúde',
      fields: [
        { key: 'birthdate', required: true, purpose: 'para a carteira de vacinação' },
        { key: 'email', required: false, purpose: 'para lembrar das consultas' },
      ],
    });
  });

  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  test('registration through a service asks its required fields too, and stores them', async () => {
    const withMother = await addService(app, {
      fields: [{ key: 'mother_name', required: true, purpose: 'para o prontuário' }],
    });
    const auth = await authorizationRequest(withMother);
    const login = await ua.get(auth.url.href, withMother.redirectUri);
    const registerUrl = new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href;
    const form = await ua.get(registerUrl);
    assert.match(form.html, /name="f_mother_name"/, 'the service field is on the registration form');
    citizen = newCitizen();
    // Left empty first: refused with the field's own message, everything typed kept.
    const missing = await ua.post(formAction(form, '/register'), citizen, withMother.redirectUri);
    assert.equal(missing.status, 422);
    assert.match(missing.html, /Este serviço pede o nome da sua mãe/);
    assert.match(missing.html, new RegExp(`value="${citizen.email.replace(/\./g, '\\.')}"`));
    const done = await ua.post(formAction(missing, '/register'), { ...citizen, f_mother_name: 'Maria das Dores Silva' }, withMother.redirectUri);
    assert.match(done.url, /\/confirm-email$/);
    const mail = await smtp.waitFor(citizen.email);
    const code = mail.text.match(/\b(\d{6})\b/)![1]!;
    const consent = await ua.post(formAction(done, '/confirm-email'), { code }, withMother.redirectUri);
    assert.match(consent.html, /Maria das Dores Silva/, 'the consent screen shows the value just typed');
    const cb = await answerConsent(ua, consent, withMother);
    const tokens = await exchange(withMother, auth, cb.url);
    assert.equal(claimsOf(tokens.id_token!).mother_name, 'Maria das Dores Silva');
  });

  test('a required field the citizen lacks is asked on the consent screen; a bad CEP is refused in the page language and typed values survive', async () => {
    const auth = await authorizationRequest(school);
    ua.headers['accept-language'] = 'en';
    const consent = await ua.get(auth.url.href, school.redirectUri);
    assert.equal(consent.status, 200);
    assert.match(consent.html, /<html lang="en">/);
    assert.match(consent.html, /to send the enrolment result/, 'purpose shown in the page language');
    assert.match(consent.html, /name="f_address_postal_code"/);
    assert.doesNotMatch(consent.html, /Saúde/);
    const bad = await ua.post(
      formAction(consent, '/consent'),
      { ...formFields(consent, '/consent'), ...ADDRESS, f_address_postal_code: '8001', decision: 'accept' },
      school.redirectUri,
    );
    assert.equal(bad.status, 422);
    assert.match(bad.html, /This postal code is not valid/);
    assert.match(bad.html, /value="Rua XV de Novembro"/);
    assert.match(bad.html, /value="sala 2"/);
    assert.equal(await app.db.db.selectFrom('consent_current').select('client_id').where('client_id', '=', school.clientId).executeTakeFirst(), undefined);
    const good = await ua.post(
      formAction(bad, '/consent'),
      { ...formFields(bad, '/consent'), ...ADDRESS, f_address_postal_code: '80010000', share_mother_name: 'yes', decision: 'accept' },
      school.redirectUri,
    );
    assert.ok(good.url.startsWith(school.redirectUri), `went to ${good.url}`);
    const tokens = await exchange(school, auth, good.url);
    const id = claimsOf(tokens.id_token!);
    const address = id.address as Record<string, string>;
    assert.equal(address.postal_code, '80010-000');
    assert.equal(address.locality, 'Curitiba');
    assert.equal(address.neighbourhood, 'Centro');
    assert.equal(id.name, citizen.name);
    // Mother's name is in the contract as optional and the citizen has it: shared because ticked.
    assert.equal(id.mother_name, 'Maria das Dores Silva');
    // Not in this contract: never released, whatever scopes are asked.
    for (const claim of ['email', 'birthdate', 'cpf', 'phone_number']) assert.equal(id[claim], undefined, claim);
    const info = await client.fetchUserInfo(school.config, tokens.access_token, String(id.sub));
    assert.deepEqual(Object.keys(info).sort(), ['address', 'mother_name', 'name', 'sub']);
    const introspection = await client.tokenIntrospection(school.config, tokens.access_token);
    for (const claim of ['email', 'birthdate', 'cpf', 'address', 'name']) assert.equal(introspection[claim], undefined);
    delete ua.headers['accept-language'];
  });

  test('the same citizen sees another service its own contract and it receives only its own fields', async () => {
    const auth = await authorizationRequest(health, { scope: 'openid profile email phone address cpf cidadela:write' });
    const consent = await ua.get(auth.url.href, health.redirectUri);
    assert.match(consent.html, /para a carteira de vacinação/);
    assert.match(consent.html, /Saúde também pede para atualizar, em seu nome, estes dados: Data de nascimento, E-mail/);
    assert.doesNotMatch(consent.html, /Rua XV de Novembro/);
    assert.doesNotMatch(consent.html, /resultado da matrícula/);
    // The optional e-mail starts unticked (opt in) and stays so: the service must not get it.
    const fields = formFields(consent, '/consent');
    assert.equal(fields.share_email, undefined, 'optional fields start unticked, even those the citizen has');
    const cb = await ua.post(formAction(consent, '/consent'), { ...fields, decision: 'accept' }, health.redirectUri);
    const tokens = await exchange(health, auth, cb.url);
    const id = claimsOf(tokens.id_token!);
    assert.equal(id.birthdate, citizen.birthdate);
    for (const claim of ['email', 'address', 'name', 'cpf', 'mother_name']) assert.equal(id[claim], undefined, claim);
    const info = await client.fetchUserInfo(health.config, tokens.access_token, String(id.sub));
    assert.deepEqual(Object.keys(info).sort(), ['birthdate', 'sub']);
  });

  let schoolRefresh: string;

  test('a new terms version asks for consent again, saying what changed; earlier versions stay immutable', async () => {
    const a1 = await authorizationRequest(school);
    const direct = await ua.get(a1.url.href, school.redirectUri);
    assert.equal(direct.status, 303, 'no consent asked while nothing changed');
    schoolRefresh = (await exchange(school, a1, direct.url)).refresh_token!;

    const store = createServiceStore(app.db.db, { provider: createProviderState() });
    await store.update(school.clientId, { termsMarkdown: '# Termos v2\n\nAgora com <script>alert(1)</script> e **novidades**.' });
    const history = await store.termsHistory(school.clientId);
    assert.deepEqual(history.map((h) => h.version), [2, 1]);
    assert.match(history[1]!.text, /Use com cuidado/);
    await assert.rejects(sql`update service_terms set text_markdown = 'x' where client_id = ${school.clientId}`.execute(app.db.db));

    const a2 = await authorizationRequest(school);
    const again = await ua.get(a2.url.href, school.redirectUri);
    assert.equal(again.status, 200);
    assert.match(again.html, /versão 2/);
    assert.match(again.html, /Os termos de uso deste serviço mudaram/);
    assert.match(again.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'HTML in the terms is shown as text');
    assert.doesNotMatch(again.html, /<script>alert/);
    const cb = await answerConsent(ua, again, school);
    assert.ok(cb.url.startsWith(school.redirectUri));
    const records = await app.db.db.selectFrom('consents').selectAll().where('client_id', '=', school.clientId).orderBy('id').execute();
    assert.deepEqual(records.map((r) => r.terms_version), [1, 2]);
    assert.equal(records[1]!.terms_sha256, history[0]!.sha256);
  });

  test('a field added to the contract asks again, marked as new', async () => {
    await createServiceStore(app.db.db, { provider: createProviderState() }).update(health.clientId, {
      fields: [
        { key: 'birthdate', required: true, purpose: 'para a carteira de vacinação' },
        { key: 'email', required: false, purpose: 'para lembrar das consultas' },
        { key: 'gender', required: false, purpose: 'para estatísticas de atendimento' },
      ],
    });
    const a = await authorizationRequest(health);
    const page = await ua.get(a.url.href, health.redirectUri);
    assert.equal(page.status, 200);
    assert.match(page.html, /passou a pedir também: Gênero/);
    assert.match(page.html, /class="tag new-tag">novo</);
    const cb = await answerConsent(ua, page, health);
    assert.ok(cb.url.startsWith(health.redirectUri));
  });

  test('revoking in the account pages: refresh token refused at once, consent asked again, history exported', async () => {
    const account = await ua.get(`${app.url}/conta/servicos`);
    assert.equal(account.status, 200);
    assert.match(account.html, /Matrícula escolar/);
    assert.match(account.html, /Saúde/);
    // Asked once more on a page of its own, then named in the message.
    const confirm = await ua.get(formAction(account, `/conta/servicos/${school.clientId}/revogar`));
    assert.match(confirm.html, /Revogar o acesso: Matrícula escolar/);
    const revoked = await ua.post(formAction(confirm, `/conta/servicos/${school.clientId}/revogar`), {});
    assert.match(revoked.html, /Você revogou o acesso de Matrícula escolar\./);
    assert.ok(!revoked.html.split('<li class="data-item">').slice(1).some((li) => li.includes('Matrícula escolar')), 'no longer listed');
    await assert.rejects(client.refreshTokenGrant(school.config, schoolRefresh), (e: { error?: string }) => e.error === 'invalid_grant');
    const a = await authorizationRequest(school);
    const page = await ua.get(a.url.href, school.redirectUri);
    assert.equal(page.status, 200);
    assert.match(page.html, /name="decision"/);

    const exported = await ua.get(`${app.url}/conta/consentimentos.json`);
    assert.equal(exported.status, 200);
    assert.match(exported.headers.get('content-disposition') ?? '', /attachment/);
    const body = JSON.parse(exported.html);
    const school_records = body.records.filter((r: { clientId: string }) => r.clientId === school.clientId);
    assert.deepEqual(school_records.map((r: { action: string }) => r.action), ['granted', 'granted', 'revoked']);
    assert.ok(school_records[0].termsSha256 && school_records[0].ip && school_records[0].acr);
    assert.deepEqual(school_records[0].fieldsShared.sort(), ['address', 'mother_name', 'name']);
    await assert.rejects(sql`delete from consents`.execute(app.db.db), /append-only/);
  });

  test('declining returns access_denied to the service and stores nothing', async () => {
    const before = await count('consents');
    const auth = await authorizationRequest(school);
    const page = await ua.get(auth.url.href, school.redirectUri);
    const cb = await answerConsent(ua, page, school, false);
    const url = new URL(cb.url);
    assert.equal(url.searchParams.get('error'), 'access_denied');
    assert.equal(await count('consents'), before);
    await assert.rejects(exchange(school, auth, cb.url), (e: { error?: string }) => e.error === 'access_denied');
  });

  test('contracts refuse unknown fields and over-long purposes; the admin API says which', async () => {
    const store = createServiceStore(app.db.db, { provider: createProviderState() });
    await assert.rejects(store.update(school.clientId, { fields: [{ key: 'blood_type', required: true, purpose: 'x'.repeat(10) }] }), (e: { code?: string }) => e.code === 'service.invalid');
    await assert.rejects(store.update(school.clientId, { fields: [{ key: 'name', required: true, purpose: 'x'.repeat(10_000) }] }), (e: { code?: string }) => e.code === 'service.invalid');
    const res = await fetch(`${app.url}/admin/api/services/${school.clientId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fields: [{ key: 'blood_type', required: true, purpose: 'para doação' }] }),
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error, 'service.invalid');
    assert.match(JSON.stringify(body.details), /fields\.0\.key/);
    assert.deepEqual((await store.find(school.clientId))!.fields.map((f) => f.key), ['name', 'address', 'mother_name']);
  });
});
