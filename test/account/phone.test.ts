import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SMS_LIMITS } from '../../src/methods/sms-code/sms-code.ts';
import { addService, answerConsent, authorizationRequest, newCitizen, registerThroughService, UserAgent } from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { type SmsGateway, startSmsGateway } from '../helpers/sms-gateway.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

// The SMS carrier cannot run here: a gateway on loopback takes its place (test/helpers/sms-gateway.ts).
let gateway: SmsGateway;
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;

before(async () => {
  gateway = await startSmsGateway();
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url, SMS_GATEWAY_URL: gateway.url, SMS_GATEWAY_TOKEN: 'gw-token' });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
  await gateway?.close();
});

const waitForSms = (to: string, count: number) => gateway.waitFor(to, count);

test('the citizen proves their mobile number with a code by SMS; services that receive it are told', async () => {
  const svc = await addService(app, {
    fields: [
      { key: 'name', required: true, purpose: 'para identificar você' },
      { key: 'phone_number', required: true, purpose: 'para avisos por SMS' },
    ],
  });
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const citizen = newCitizen({ phone_number: '(41) 99876-5432' });
  const { page } = await registerThroughService(ua, svc, auth, smtp, citizen);
  await answerConsent(ua, page, svc);
  const phone = '+5541998765432';
  const verifiedFlag = async () =>
    (await app.db.db.selectFrom('citizens').select('phone_number_verified').where('cpf', '=', citizen.cpf).executeTakeFirstOrThrow())
      .phone_number_verified;
  assert.equal(await verifiedFlag(), false);

  const data = await ua.get(`${app.url}/conta/dados`);
  assert.match(data.html, /não verificado/);
  const codePage = await ua.post(formAction(data, '/conta/celular/verificar'), {});
  assert.match(codePage.url, /\/conta\/celular\/confirmar$/);
  assert.match(codePage.html, /terminado em ••••5432/);
  assert.doesNotMatch(codePage.html, /99876/, 'the page does not repeat the whole number');
  const sms = await waitForSms(phone, 1);
  assert.equal(sms.auth, 'Bearer gw-token');
  const code = sms.text.match(/\b(\d{6})\b/)![1]!;
  const wrong = await ua.post(formAction(codePage, '/conta/celular/confirmar'), { code: code === '123456' ? '654321' : '123456' });
  assert.equal(wrong.status, 422);
  assert.match(wrong.html, /Código incorreto/);
  assert.equal(await verifiedFlag(), false);
  const done = await ua.post(formAction(wrong, '/conta/celular/confirmar'), { code });
  assert.match(done.html, /verificado/);
  assert.equal(await verifiedFlag(), true);
  const event = await app.db.db.selectFrom('events').select(['type', 'data']).where('type', '=', 'phone.verified').executeTakeFirst();
  assert.deepEqual(event?.data, { phone });
  const logs = app.logs.join('\n');
  assert.doesNotMatch(logs, new RegExp(code), 'the SMS code is not logged');
});

test('SMS sends are limited per citizen per day', async () => {
  const svc = await addService(app);
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const citizen = newCitizen({ phone_number: '(41) 99123-4567' });
  const { page } = await registerThroughService(ua, svc, auth, smtp, citizen);
  await answerConsent(ua, page, svc);
  let last = await ua.get(`${app.url}/conta/dados`);
  for (let i = 0; i < SMS_LIMITS.perCitizen.limit; i++) {
    last = await ua.post(formAction(await ua.get(`${app.url}/conta/dados`), '/conta/celular/verificar'), {});
    assert.equal(last.status, 200, `send ${i + 1}`);
  }
  last = await ua.post(formAction(await ua.get(`${app.url}/conta/dados`), '/conta/celular/verificar'), {});
  assert.equal(last.status, 429);
  assert.match(last.html, /muitos SMS/);
  await waitForSms('+5541991234567', SMS_LIMITS.perCitizen.limit);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(gateway.count('+5541991234567'), SMS_LIMITS.perCitizen.limit);
});
