import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { plan } from '../../src/events/fan-out.ts';
import { ASSURANCE_LEVEL_CHANGE } from '../../src/events/set-format.ts';
import { createTestPki, PEOPLE, type TestPki } from '../fixtures/test-pki.ts';
import { type CertificateApp, handoffFrom, presentOverTls, startCertificateApp } from '../helpers/certificates.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, answerConsent, authorizationRequest, exchange, type TestService, UserAgent } from '../helpers/journeys.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';

// The account's level: raised to ouro by a certificate (history, CAEP event), shown on /conta with
// the e-CNPJ's company; editing a value the certificate confirmed clears its verification and
// lowers the account again.

let pki: TestPki;
let app: CertificateApp;
let svc: TestService;

before(async () => {
  pki = await createTestPki();
  app = await startCertificateApp(pki);
  svc = await addService(app);
});
after(async () => {
  await app?.stop();
  pki?.remove();
});

async function signInWithCertificate(ua: UserAgent, name: 'ecnpj-a3-alphanumeric' | 'ecpf-a1-octet') {
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const page = await ua.get(new URL(login.html.match(/href="(\/interaction\/[^"]+\/certificate)"/)![1]!, login.url).href);
  const { action, handoff } = handoffFrom(page);
  const answer = await presentOverTls(action, handoff, pki.certs[name], app.serverCertPem);
  const next = await ua.get(answer.location!, svc.redirectUri);
  const callback = next.html.includes('name="decision"') ? await answerConsent(ua, next, svc) : next;
  return (await exchange(svc, auth, callback.url)).claims()!;
}

test('an e-CNPJ raises the account to ouro (history and event), /conta shows the level and the company; editing the verified name lowers it', async () => {
  const citizen = await seedCitizen(app.db.db, { cpf: PEOPLE.responsible.cpf, name: 'Joao Responsavel Teste', birthdate: PEOPLE.responsible.birthdate });
  const ua = new UserAgent({ 'accept-language': 'pt-BR' });
  const claims = await signInWithCertificate(ua, 'ecnpj-a3-alphanumeric');
  assert.equal(claims.sub, citizen.id);
  assert.equal(claims.acr, 'ouro');

  const account = await ua.get(`${app.url}/conta`);
  assert.equal(account.status, 200);
  assert.ok(account.html.includes('nível ouro'), 'the level is shown');
  assert.ok(account.html.includes(PEOPLE.company.name) && account.html.includes(PEOPLE.company.cnpj), 'the company is listed');

  const db = app.db.db;
  const raised = await db.selectFrom('events').select(['type', 'data']).where('citizen_id', '=', citizen.id).where('type', '=', 'assurance.changed').execute();
  assert.deepEqual(raised.map((e) => e.data), [{ from: 'bronze', to: 'ouro', reason: 'certificate' }]);

  const form = await ua.get(`${app.url}/conta/dados`);
  const saved = await ua.post(formAction(form, '/conta/dados'), { ...formFields(form, '/conta/dados'), f_name: 'Joao Outro Nome' });
  assert.ok(saved.status < 400, `saved: ${saved.status}`);
  const verified = await db.selectFrom('field_verifications').select('field').where('citizen_id', '=', citizen.id).execute();
  assert.deepEqual(verified.map((v) => v.field).sort(), ['birthdate', 'cpf'], 'the edited name is no longer verified');
  const row = await db.selectFrom('citizens').select('trust_level').where('id', '=', citizen.id).executeTakeFirstOrThrow();
  assert.equal(row.trust_level, 'bronze');
  const history = await db.selectFrom('trust_level_changes').select(['from_level', 'to_level', 'reason']).where('citizen_id', '=', citizen.id).orderBy('changed_at').execute();
  assert.deepEqual(history.map((h) => [h.from_level, h.to_level, h.reason]), [
    ['bronze', 'ouro', 'certificate'],
    ['ouro', 'bronze', 'verified_field_edited'],
  ]);
  const lowered = await db.selectFrom('events').select('data').where('citizen_id', '=', citizen.id).where('type', '=', 'assurance.changed').orderBy('id').execute();
  assert.equal(lowered.length, 2);

  // The next sign-in with the certificate raises it again; a password sign-in meanwhile is bronze.
  const again = await signInWithCertificate(new UserAgent(), 'ecnpj-a3-alphanumeric');
  assert.equal(again.acr, 'ouro');
});

test('a level change goes to each consented service as CAEP assurance-level-change', () => {
  const deliveries = plan(
    { type: 'assurance.changed', data: { from: 'bronze', to: 'ouro', reason: 'certificate' }, origin_client_id: null, audience: null },
    [{ clientId: 'a', shared: new Set(['name']) }, { clientId: 'b', shared: new Set() }],
    new Map(),
  );
  assert.deepEqual(deliveries.map((d) => [d.clientId, d.eventType]), [['a', ASSURANCE_LEVEL_CHANGE], ['b', ASSURANCE_LEVEL_CHANGE]]);
  assert.deepEqual(
    { ...deliveries[0]!.body, reason_admin: undefined },
    { namespace: 'urn:cidadela:acr', current_level: 'ouro', previous_level: 'bronze', change_direction: 'increase', initiating_entity: 'user', reason_admin: undefined },
  );
});
