import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as client from 'openid-client';
import { addService, answerConsent, authorizationRequest, exchange, registerThroughService, UserAgent } from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';

let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

test('the citizen edits their data once; a bad CEP is refused with input kept; services see the new values', async () => {
  const svc = await addService(app, {
    fields: [
      { key: 'name', required: true, purpose: 'para identificar você' },
      { key: 'address', required: false, purpose: 'para entregas' },
    ],
  });
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const { page, citizen } = await registerThroughService(ua, svc, auth, smtp);
  const cb = await answerConsent(ua, page, svc);
  const first = await exchange(svc, auth, cb.url);
  assert.equal(first.claims()!.address, undefined);

  const form = await ua.get(`${app.url}/conta/dados`);
  assert.equal(form.status, 200);
  const fields = formFields(form, '/conta/dados');
  assert.equal(fields.f_name, citizen.name, 'the form shows the stored values');
  assert.doesNotMatch(form.html, /name="f_cpf"/, 'the CPF cannot be edited');

  const address = {
    f_address_postal_code: '8001-000',
    f_address_street_address: 'Avenida Sete de Setembro',
    f_address_number: '2775',
    f_address_locality: 'Curitiba',
    f_address_region: 'PR',
    f_address_country: 'BR',
  };
  const bad = await ua.post(formAction(form, '/conta/dados'), { ...fields, ...address, f_name: 'Joana Nova da Silva' });
  assert.equal(bad.status, 422);
  assert.match(bad.html, /Este CEP não é válido/);
  assert.match(bad.html, /value="Avenida Sete de Setembro"/);
  assert.match(bad.html, /value="Joana Nova da Silva"/);
  const unchanged = await app.db.db.selectFrom('citizens').select(['name', 'profile']).where('email', '=', citizen.email).executeTakeFirstOrThrow();
  assert.equal(unchanged.name, citizen.name, 'nothing saved on error');

  const good = await ua.post(formAction(bad, '/conta/dados'), {
    ...formFields(bad, '/conta/dados'),
    ...address,
    f_address_postal_code: '80060000',
    f_name: 'Joana Nova da Silva',
    f_gender: 'female',
  });
  assert.equal(good.status, 200);
  assert.match(good.html, /Dados salvos/);
  const row = await app.db.db.selectFrom('citizens').select(['name', 'profile']).where('email', '=', citizen.email).executeTakeFirstOrThrow();
  assert.equal(row.name, 'Joana Nova da Silva');
  assert.equal((row.profile.address as Record<string, string>).postal_code, '80060-000');
  assert.equal(row.profile.gender, 'female');

  // Optional field now present and the consent does not list it as shared yet: the citizen is
  // asked again only if required; here the service keeps receiving what was consented.
  const info = await client.fetchUserInfo(svc.config, first.access_token, String(first.claims()!.sub));
  assert.equal(info.name, 'Joana Nova da Silva');
});

test('the account pages ask to sign in when there is no session', async () => {
  const res = await fetch(`${app.url}/conta/dados`, { redirect: 'manual' });
  assert.equal(res.status, 303);
  assert.match(res.headers.get('location') ?? '', /\/oidc\/auth\?client_id=cidadela-conta/);
});

test('changing the e-mail: nothing changes until the code sent to the new address comes back', async () => {
  const svc = await addService(app);
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const { page, citizen } = await registerThroughService(ua, svc, auth, smtp);
  await answerConsent(ua, page, svc);
  const other = await (async () => {
    const ua2 = new UserAgent();
    const a2 = await authorizationRequest(svc);
    return (await registerThroughService(ua2, svc, a2, smtp)).citizen;
  })();

  let form = await ua.get(`${app.url}/conta/email`);
  const taken = await ua.post(formAction(form, '/conta/email'), { email: other.email.toUpperCase() });
  assert.equal(taken.status, 409);
  assert.match(taken.html, /Este e-mail já está em uma conta/);

  form = await ua.get(`${app.url}/conta/email`);
  const newEmail = `novo.${citizen.email}`;
  const confirm = await ua.post(formAction(form, '/conta/email'), { email: newEmail });
  assert.match(confirm.url, /\/conta\/email\/confirmar$/);
  const stored = () => app.db.db.selectFrom('citizens').select(['email', 'email_verified']).where('cpf', '=', citizen.cpf).executeTakeFirstOrThrow();
  assert.equal((await stored()).email, citizen.email, 'the old address stays until the new one is proven');
  const mail = await smtp.waitFor(newEmail);
  const wrong = await ua.post(formAction(confirm, '/conta/email/confirmar'), { code: '000000' === codeFrom(mail) ? '111111' : '000000' });
  assert.equal(wrong.status, 422);
  assert.equal((await stored()).email, citizen.email);
  const done = await ua.post(formAction(wrong, '/conta/email/confirmar'), { code: codeFrom(mail) });
  assert.match(done.html, /E-mail alterado/);
  const now = await stored();
  assert.equal(now.email, newEmail);
  assert.equal(now.email_verified, true);
  // The new address signs in; the old one no longer does.
  const row = await app.db.db.selectFrom('citizens').select('id').where('email', '=', citizen.email).executeTakeFirst();
  assert.equal(row, undefined);
});
