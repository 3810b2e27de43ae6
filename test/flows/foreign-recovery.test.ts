import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createCitizenStore } from '../../src/identity/citizen-store.ts';
import { createPasswordHasher } from '../../src/methods/password/password-hasher.ts';
import { loadMessages } from '../../src/platform/i18n.ts';
import { escapeHtml } from '../../src/web/html.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  loginThroughService,
  newCitizen,
  UserAgent,
} from '../helpers/journeys.ts';
import { type SmsGateway, smsCodeOf, startSmsGateway } from '../helpers/sms-gateway.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { csrfOf, formAction, formFields } from '../helpers/user-agent.ts';

// Issue 12 leftovers: a foreign account recovers access by SMS to its international number, the
// SMS in its own language whatever the page's; SMS_COUNTRIES holds for recovery and for the number
// check on /conta, not only at registration.

const messages = loadMessages();
const PASSWORD = 'lighthouse over quiet harbour 81';
let gateway: SmsGateway;
let app: TestApp;

before(async () => {
  gateway = await startSmsGateway();
  // Spain enabled; Portugal not.
  app = await startTestApp({ SMS_GATEWAY_URL: gateway.url, SMS_COUNTRIES: 'BR,ES' });
});
after(async () => {
  await app?.stop();
  await gateway?.close();
});

/** A foreign account (no CPF, no e-mail) whose number was proven by SMS, as registration leaves it. */
async function foreigner(phone: string, locale: string, verified = true) {
  const citizens = createCitizenStore(app.db.db);
  const { id } = await citizens.create({
    cpf: null,
    email: null,
    name: 'Lucía Visitante Gómez',
    socialName: null,
    birthdate: '1990-05-04',
    phoneNumber: phone,
    passwordHash: await createPasswordHasher().hash(PASSWORD),
    locale,
  });
  if (verified) assert.equal(await citizens.markPhoneVerified(id, phone), 'verified');
  return id;
}

/** The recovery pages up to the list of ways, for what is typed. */
async function waysFor(ua: UserAgent, identifier: string, country: string) {
  const start = await ua.get(`${app.url}/recuperar`);
  assert.match(start.html, /name="country"/, 'the recovery page reads a national form of a foreign number');
  return ua.post(formAction(start, '/recuperar'), {
    ...formFields(start, '/recuperar'),
    identifier,
    country,
  });
}

const options = (html: string) =>
  [...html.matchAll(/name="way" value="([^"]+)"[^>]*><label for="way-\d+">([^<]+)</g)].map((m) => ({
    value: m[1]!,
    label: m[2]!,
  }));

test('a foreign account recovers by SMS to its international number typed in the national form; the SMS is in its language, not the page’s', async () => {
  const e164 = '+34612345678';
  const id = await foreigner(e164, 'es');
  const ua = new UserAgent({ 'accept-language': 'pt-BR' });
  const ways = await waysFor(ua, '612 34 56 78', 'ES');
  assert.equal(ways.status, 200, ways.html.slice(0, 1500));
  const sms = options(ways.html).find((o) => o.label.includes('5678'));
  assert.ok(sms, `the number is offered: ${JSON.stringify(options(ways.html))}`);
  assert.doesNotMatch(ways.html, /612 ?34 ?56/, 'masked');
  const codePage = await ua.post(formAction(ways, '/recuperar/opcoes'), { way: sms.value });
  const text = (await gateway.waitFor(e164, 1)).text;
  assert.ok(text.startsWith(messages.es['sms.recovery_code']!.slice(0, 20)), `in Spanish: ${text}`);
  const proven = await ua.post(formAction(codePage, '/recuperar/codigo'), { code: smsCodeOf(text) });
  assert.match(proven.url, /\/recuperar\/senha$/, proven.html.slice(0, 1500));
  const newPassword = 'farol sobre o porto calmo 93';
  const done = await ua.post(formAction(proven, '/recuperar/senha'), {
    _csrf: csrfOf(proven.html)!,
    password: newPassword,
  });
  assert.equal(done.status, 200, done.html.slice(0, 1500));
  const notice = (await gateway.waitFor(e164, 2)).text;
  assert.ok(
    notice.startsWith(messages.es['sms.recovery_notice']!.slice(0, 15)),
    `the notice in Spanish: ${notice}`,
  );

  // The new password signs in with the number.
  const svc = await addService(app, {
    acceptsForeigners: true,
    fields: [{ key: 'name', required: true, purpose: 'to know who you are' }],
  });
  const signIn = new UserAgent();
  const auth = await authorizationRequest(svc);
  const consent = await loginThroughService(signIn, svc, auth, e164, newPassword);
  const back = await answerConsent(signIn, consent, svc);
  assert.match(back.url, /code=/);
  assert.ok(id);
});

test('a number of a country not in SMS_COUNTRIES is not offered, for an account and for nobody alike, and no SMS goes', async () => {
  const e164 = '+351912345678';
  await foreigner(e164, 'en');
  const page = async (identifier: string) => {
    const ways = await waysFor(new UserAgent({ 'accept-language': 'en' }), identifier, 'PT');
    return ways.html.replace(/name="_csrf" value="[^"]+"/g, '');
  };
  // The e-mail stand-in for nobody depends on what was typed; no SMS way is offered to either.
  for (const html of [await page('912 345 678'), await page('912 345 679')]) {
    assert.equal(options(html).filter((o) => o.label.includes('+351')).length, 0, html.slice(0, 1500));
  }
  assert.equal(gateway.count(e164), 0);
});

test('for nobody’s number the stand-in is that number, masked, as an account’s own would be', async () => {
  const mine = await waysFor(new UserAgent(), '+34 699 111 222', 'BR');
  await foreigner('+34699111333', 'es');
  const theirs = await waysFor(new UserAgent(), '+34 699 111 333', 'BR');
  const label = (html: string) =>
    options(html)
      .filter((o) => o.label.includes('+34'))
      .map((o) => o.label.replace(/\d{4}\b(?=[^\d]*$)/, 'NNNN'));
  assert.deepEqual(label(mine.html), label(theirs.html));
});

test('/conta: checking a number of a disabled country is refused with the reason before any SMS', async () => {
  const e164 = '+351913000111';
  const citizens = createCitizenStore(app.db.db);
  const person = newCitizen();
  const { id } = await citizens.create({
    cpf: person.cpf.replace(/\D/g, ''),
    email: person.email,
    name: person.name,
    socialName: null,
    birthdate: person.birthdate,
    phoneNumber: e164,
    passwordHash: await createPasswordHasher().hash(person.password),
    locale: 'en',
  });
  await citizens.markEmailVerified(id);
  const ua = new UserAgent({ 'accept-language': 'en' });
  const login = await ua.get(`${app.url}/conta`);
  const account = await ua.post(formAction(login, '/login'), {
    identifier: person.email,
    password: person.password,
  });
  const data = await ua.get(`${app.url}/conta/dados`);
  assert.equal(data.status, 200, `${account.url}\n${data.html.slice(0, 1000)}`);
  const refused = await ua.post(formAction(data, '/conta/celular/verificar'), {});
  assert.equal(refused.status, 422);
  assert.ok(
    refused.html.includes(escapeHtml(messages.en['phone.country_disabled']!)),
    refused.html.slice(0, 1500),
  );
  assert.equal(gateway.count(e164), 0);
  const flows = await app.db.db
    .selectFrom('flows')
    .select('id')
    .where('citizen_id', '=', id)
    .where('kind', '=', 'phone_verification')
    .execute();
  assert.equal(flows.length, 0);
});
