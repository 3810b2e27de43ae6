import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadMessages } from '../../src/platform/i18n.ts';
import { escapeHtml } from '../../src/web/html.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  loginThroughService,
  newCitizen,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { type SmsGateway, smsCodeOf, startSmsGateway } from '../helpers/sms-gateway.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

// The SMS carrier cannot run here: a gateway on loopback takes its place (test/helpers/sms-gateway.ts).
let gateway: SmsGateway;
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
let svc: TestService;

before(async () => {
  gateway = await startSmsGateway();
  smtp = await startSmtpPeer();
  app = await startTestApp({
    SMTP_URL: smtp.url,
    SMS_GATEWAY_URL: gateway.url,
    SMS_GATEWAY_TOKEN: 'gw',
  });
  svc = await addService(app);
});
after(async () => {
  await app?.stop();
  await smtp?.close();
  await gateway?.close();
});

async function smsCode(to: string, count: number): Promise<string> {
  return smsCodeOf((await gateway.waitFor(to, count)).text);
}

/** Registers through the service with this number and asks for the SMS code in the account pages. */
async function registeredWith(phone: string, password: string) {
  const ua = new UserAgent();
  const citizen = newCitizen({ phone_number: phone, password });
  const { page } = await registerThroughService(ua, svc, await authorizationRequest(svc), smtp, citizen);
  await answerConsent(ua, page, svc);
  const codePage = await ua.post(
    formAction(await ua.get(`${app.url}/conta/dados`), '/conta/celular/verificar'),
    {},
  );
  assert.match(codePage.url, /\/conta\/celular\/confirmar$/);
  return { ua, citizen, codePage };
}

test('a proven mobile number signs in on the login page; a second account cannot prove it too', async () => {
  const e164 = '+5541997531864';
  const first = await registeredWith('(41) 99753-1864', 'girassol azul na janela 42');
  const proven = await first.ua.post(formAction(first.codePage, '/conta/celular/confirmar'), {
    code: await smsCode(e164, 1),
  });
  assert.equal(proven.status, 200);

  // Typed as the citizen knows it, national form: the login page reads it as a Brazilian number.
  const back = await loginThroughService(
    new UserAgent(),
    svc,
    await authorizationRequest(svc),
    '41 99753-1864',
    first.citizen.password,
  );
  assert.ok(
    back.url.startsWith(svc.redirectUri),
    `signed in by phone, expected the service, got ${back.status} ${back.url}`,
  );

  const second = await registeredWith('+55 41 99753-1864', 'outra senha bem comprida 77');
  const refused = await second.ua.post(formAction(second.codePage, '/conta/celular/confirmar'), {
    code: await smsCode(e164, 2),
  });
  assert.equal(refused.status, 409);
  assert.ok(
    refused.html.includes(escapeHtml(loadMessages()['pt-BR']['identifier.phone_taken']!)),
    refused.html.slice(0, 2000),
  );
  const flags = await app.db.db
    .selectFrom('citizens')
    .select(['cpf', 'phone_number_verified'])
    .where('phone_number', '=', e164)
    .orderBy('created_at')
    .execute();
  assert.deepEqual(
    flags.map((f) => f.phone_number_verified),
    [true, false],
  );
  // The number still signs the first account in.
  const again = await loginThroughService(
    new UserAgent(),
    svc,
    await authorizationRequest(svc),
    e164,
    first.citizen.password,
  );
  assert.ok(again.url.startsWith(svc.redirectUri));
  const wrongAccount = await loginThroughService(
    new UserAgent(),
    svc,
    await authorizationRequest(svc),
    e164,
    second.citizen.password,
  );
  assert.equal(wrongAccount.status, 401, "the second account's password does not open the first");
});
