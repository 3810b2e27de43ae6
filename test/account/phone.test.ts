import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { SMS_LIMITS } from '../../src/methods/sms-code/sms-code.ts';
import { addService, answerConsent, authorizationRequest, newCitizen, registerThroughService, UserAgent } from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

// The SMS carrier cannot run here: a gateway on loopback takes the place of the city's, behind the
// same HTTP adapter production uses.
const received: { to: string; text: string; auth: string | undefined }[] = [];
let gateway: Server;
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;

before(async () => {
  gateway = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const parsed = JSON.parse(body);
      received.push({ to: parsed.to, text: parsed.text, auth: req.headers.authorization });
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  const port = (gateway.address() as { port: number }).port;
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url, SMS_GATEWAY_URL: `http://127.0.0.1:${port}/sms`, SMS_GATEWAY_TOKEN: 'gw-token' });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
  gateway?.close();
});

async function waitForSms(to: string, count: number) {
  // Bounds a hang only; the loop ends as soon as the SMS arrives.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const mine = received.filter((r) => r.to === to);
    if (mine.length >= count) return mine[count - 1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no SMS number ${count} to ${to}`);
}

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
  assert.equal(received.filter((r) => r.to === '+5541991234567').length, SMS_LIMITS.perCitizen.limit);
});
