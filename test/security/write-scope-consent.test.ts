import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  loginThroughService,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

// Review finding 3: after consenting without `cidadela:write`, a sign-in from a new browser asking
// for it got it with no consent screen. Written as the attack.

let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
let svc: TestService;
let citizen: { cpf: string; password: string; email: string };
let sub: string;

before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
  svc = await addService(app, { fields: [{ key: 'name', required: true, purpose: 'para identificar você' }] });
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc, { scope: 'openid profile' });
  const registered = await registerThroughService(ua, svc, auth, smtp);
  citizen = registered.citizen;
  const callback = await answerConsent(ua, registered.page, svc);
  sub = (await exchange(svc, auth, callback.url)).claims()!.sub;
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

const patchName = (token: string) =>
  fetch(`${app.url}/api/v1/me`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Nome Trocado Pelo Servico' }),
  });

test('asking for write access from a new browser shows the consent screen, which says so', async () => {
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc, { scope: 'openid profile cidadela:write' });
  const page = await loginThroughService(ua, svc, auth, citizen.cpf, citizen.password);
  assert.equal(page.status, 200, `a consent screen, not ${page.url}`);
  assert.match(page.html, /name="decision"/);
  assert.match(page.html, /cidadela:write|atualizar/i);
  const declined = await answerConsent(ua, page, svc, false);
  assert.match(declined.url, /error=access_denied/);
  const rows = await app.db.db.selectFrom('consents').select(['write_back']).where('citizen_id', '=', sub).execute();
  assert.ok(rows.every((r) => !r.write_back), 'no write access recorded');
});

test('write access consented is recorded, shown on /conta, and revocable: the token stops working at once', async () => {
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc, { scope: 'openid profile cidadela:write' });
  const page = await loginThroughService(ua, svc, auth, citizen.cpf, citizen.password);
  const callback = await answerConsent(ua, page, svc);
  const tokens = await exchange(svc, auth, callback.url);
  assert.ok(String(tokens.scope).split(' ').includes('cidadela:write'));
  const last = await app.db.db.selectFrom('consents').select(['write_back']).where('citizen_id', '=', sub).orderBy('id', 'desc').executeTakeFirstOrThrow();
  assert.equal(last.write_back, true);
  assert.equal((await patchName(tokens.access_token)).status, 200);

  const account = await ua.get(`${app.url}/conta/servicos`);
  assert.match(account.html, /pode atualizar os seus dados/);
  const done = await ua.post(formAction(account, '/escrita/revogar'), {});
  assert.match(done.url, /escrita=/);
  assert.match(done.html, /não pode mais atualizar os seus dados/);
  assert.equal((await patchName(tokens.access_token)).status, 401, 'the write token is gone');
  const history = await app.db.db.selectFrom('consents').select(['action', 'write_back', 'fields_shared']).where('citizen_id', '=', sub).orderBy('id', 'desc').executeTakeFirstOrThrow();
  assert.deepEqual(history, { action: 'granted', write_back: false, fields_shared: ['name'] });

  // Signing in again for reading needs no screen; asking to write again asks again.
  const reader = new UserAgent();
  const readAuth = await authorizationRequest(svc, { scope: 'openid profile' });
  const read = await loginThroughService(reader, svc, readAuth, citizen.cpf, citizen.password);
  assert.match(read.url, /code=/);
  const writeAuth = await authorizationRequest(svc, { scope: 'openid profile cidadela:write' });
  const again = await reader.get(writeAuth.url.href, svc.redirectUri);
  assert.match(again.html, /name="decision"/);
});
