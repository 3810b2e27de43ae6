import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as client from 'openid-client';
import { loadMessages } from '../../src/platform/i18n.ts';
import { escapeHtml } from '../../src/web/html.ts';
import {
  addService,
  answerConsent,
  type Authorization,
  authorizationRequest,
  exchange,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { type SmsGateway, startSmsGateway } from '../helpers/sms-gateway.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { cpfFromBase } from '../../src/identity/cpf.ts';
import { serviceCommand } from '../../src/cli/service-command.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import { formAction, formFields, type Page } from '../helpers/user-agent.ts';

// The SMS carrier cannot run here: a gateway on loopback takes its place (test/helpers/sms-gateway.ts).
let gateway: SmsGateway;
let app: TestApp;
let accepts: TestService;
let refuses: TestService;
const messages = loadMessages();
const PASSWORD = 'lighthouse over quiet harbour 81';

before(async () => {
  gateway = await startSmsGateway();
  app = await startTestApp({
    SMS_GATEWAY_URL: gateway.url,
    SMS_GATEWAY_TOKEN: 'gw',
    // Spain, the United States and Argentina enabled; Portugal not.
    SMS_COUNTRIES: 'BR,ES,US,AR',
  });
  const contract = [
    { key: 'name', required: true, purpose: 'to know who you are' },
    { key: 'cpf', required: true, purpose: 'para cruzar com o cadastro municipal' },
    { key: 'phone_number', required: true, purpose: 'to reach you' },
    { key: 'locale', required: true, purpose: 'to write to you in your language' },
    { key: 'nationality', required: true, purpose: 'tourism statistics' },
    { key: 'passport_number', required: false, purpose: 'to find your booking' },
  ];
  accepts = await addService(app, { acceptsForeigners: true, fields: contract });
  refuses = await addService(app, { fields: contract });
});
after(async () => {
  await app?.stop();
  await gateway?.close();
});

const smsTo = async (to: string, count: number): Promise<string> => (await gateway.waitFor(to, count)).text;
const codeOf = (text: string) => text.match(/\b(\d{6})\b/)![1]!;
const sent = (to: string) => gateway.count(to);
const t = (locale: 'pt-BR' | 'en' | 'es', key: string) => escapeHtml(messages[locale][key]!);

type Foreigner = {
  country: string;
  phone: string;
  e164: string;
  name: string;
  nationality: string;
  locale: 'en' | 'es';
  email?: string;
};

/** From the service's login page (in the person's language) to the code page. */
async function startRegistration(
  ua: UserAgent,
  svc: TestService,
  who: Foreigner,
): Promise<{ page: Page; auth: Authorization }> {
  const auth = await authorizationRequest(svc, { ui_locales: who.locale });
  const login = await ua.get(auth.url.href, svc.redirectUri);
  assert.ok(
    login.html.includes(t(who.locale, 'foreign.no_cpf')),
    'the login page offers registration without a CPF',
  );
  const form = await ua.get(
    new URL(login.html.match(/href="(\/interaction\/[^"]+\/register-foreign)"/)![1]!, login.url).href,
  );
  assert.equal(form.status, 200);
  assert.match(form.html, new RegExp(`<html lang="${who.locale}"`));
  const page = await ua.post(formAction(form, '/register-foreign'), {
    country: who.country,
    phone: who.phone,
    f_name: who.name,
    f_birthdate: '1990-05-04',
    f_nationality: who.nationality,
    f_email: who.email ?? '',
    f_locale: who.locale,
    password: PASSWORD,
  });
  return { page, auth };
}

/** Registers, proves the number, consents, and returns what the service receives. */
async function registerAndConsent(svc: TestService, who: Foreigner) {
  const ua = new UserAgent();
  const before = sent(who.e164);
  const { page, auth } = await startRegistration(ua, svc, who);
  assert.match(page.url, /\/register-foreign\/code$/, page.html.slice(0, 3000));
  assert.ok(page.html.includes(t(who.locale, 'foreign.code_title')));
  const sms = await smsTo(who.e164, before + 1);
  // The SMS speaks the language chosen.
  assert.ok(sms.startsWith(messages[who.locale]['sms.phone_code']!.slice(0, 20)), sms);
  const code = codeOf(sms);
  const wrong = await ua.post(formAction(page, '/register-foreign/code'), {
    code: code === '000000' ? '111111' : '000000',
  });
  assert.equal(wrong.status, 422);
  assert.ok(
    wrong.html.includes(escapeHtml(messages[who.locale]['email_code.invalid']!.replace('{tries}', '4'))),
    wrong.html.slice(0, 2000),
  );
  assert.equal(await accountsWith(who.e164), 0, 'no account before the number is proven');
  const consent = await ua.post(formAction(wrong, '/register-foreign/code'), { code }, svc.redirectUri);
  assert.ok(consent.html.includes('name="decision"'), consent.html.slice(0, 3000));
  assert.match(consent.html, new RegExp(`<html lang="${who.locale}"`));
  // The contract's CPF is not asked of a foreigner, nor shown.
  assert.doesNotMatch(consent.html, /name="f_cpf"/);
  assert.ok(!consent.html.includes(`>${messages[who.locale]['field.cpf.label']}<`));
  const back = await answerConsent(ua, consent, svc);
  assert.ok(back.url.startsWith(svc.redirectUri), `expected the service, got ${back.status} ${back.url}`);
  const tokens = await exchange(svc, auth, back.url);
  const claims = tokens.claims()!;
  const userinfo = await client.fetchUserInfo(svc.config, tokens.access_token, claims.sub);
  return { ua, claims, userinfo };
}

async function accountsWith(e164: string): Promise<number> {
  const rows = await app.db.db.selectFrom('citizens').select('id').where('phone_number', '=', e164).execute();
  return rows.length;
}

const john: Foreigner = {
  country: 'US',
  phone: '+1 415 555 2671',
  e164: '+14155552671',
  name: 'John Visitor Smith',
  nationality: 'US',
  locale: 'en',
};
const lucia: Foreigner = {
  country: 'ES',
  phone: '612 34 56 78',
  e164: '+34612345678',
  name: 'Lucía Pérez García',
  nationality: 'ES',
  locale: 'es',
  email: 'lucia.perez@example.test',
};

test('a foreigner registers in English, proves the number by SMS, consents; the service gets the number, locale and nationality, no cpf', async () => {
  const { claims, userinfo } = await registerAndConsent(accepts, john);
  for (const received of [claims, userinfo] as Record<string, unknown>[]) {
    assert.equal(received.phone_number, '+14155552671');
    assert.equal(received.phone_number_verified, true);
    assert.equal(received.locale, 'en');
    assert.equal(received.nationality, 'US');
    assert.equal(received.name, 'John Visitor Smith');
    assert.ok(!('cpf' in received), 'no cpf claim at all, not even an empty one');
  }
  const row = await app.db.db
    .selectFrom('citizens')
    .selectAll()
    .where('phone_number', '=', john.e164)
    .executeTakeFirstOrThrow();
  assert.equal(row.cpf, null);
  assert.equal(row.email, null);
  assert.equal(row.locale, 'en');
});

test('a foreigner registers in Spanish (national form of the number), and a service that does not accept foreigners refuses them clearly', async () => {
  const { ua, claims } = await registerAndConsent(accepts, lucia);
  assert.equal(claims.phone_number, '+34612345678');
  assert.equal(claims.locale, 'es');
  assert.equal(claims.nationality, 'ES');
  assert.ok(!('cpf' in claims));

  // A service that does not accept foreigners never shows the foreign path...
  const fresh = new UserAgent();
  const login = await fresh.get(
    (await authorizationRequest(refuses, { ui_locales: 'es' })).url.href,
    refuses.redirectUri,
  );
  assert.ok(!login.html.includes(t('es', 'foreign.no_cpf')));
  assert.doesNotMatch(login.html, /register-foreign/);
  const direct = await fresh.get(login.url.replace(/\/?$/, '/register-foreign'));
  assert.doesNotMatch(direct.url, /register-foreign/, 'the foreign form does not exist there');

  // ...and the foreign account, signed in already, gets a page in Spanish; the service gets access_denied.
  const auth = await authorizationRequest(refuses);
  const refused = await ua.get(auth.url.href, refuses.redirectUri);
  assert.equal(refused.status, 403);
  assert.ok(refused.html.includes(t('es', 'foreign.refused_title')), refused.html.slice(0, 2000));
  assert.doesNotMatch(refused.html, /name="decision"/, 'no consent is offered');
  const back = await ua.post(formAction(refused, '/abort'), { reason: 'foreigners' }, refuses.redirectUri);
  const callback = new URL(back.url);
  assert.equal(callback.searchParams.get('error'), 'access_denied');
  assert.equal(callback.searchParams.get('code'), null);

  // Signing in with the password at that service: refused the same way, no code issued.
  const other = new UserAgent();
  const page = await other.get((await authorizationRequest(refuses)).url.href, refuses.redirectUri);
  const afterLogin = await other.post(
    formAction(page, '/login'),
    { identifier: lucia.e164, password: PASSWORD },
    refuses.redirectUri,
  );
  assert.equal(afterLogin.status, 403);
  assert.ok(afterLogin.html.includes(t('es', 'foreign.refused_title')));
});

test('the number signs in written four ways (spaces, dashes without +, national form with the country, E.164)', async () => {
  const ways: [string, string][] = [
    ['+34 612 34 56 78', 'BR'],
    ['34-612-345-678', 'BR'],
    ['612 345 678', 'ES'],
    ['+34612345678', 'BR'],
  ];
  for (const [identifier, country] of ways) {
    const ua = new UserAgent();
    const login = await ua.get((await authorizationRequest(accepts)).url.href, accepts.redirectUri);
    const back = await ua.post(
      formAction(login, '/login'),
      { identifier, country, password: PASSWORD },
      accepts.redirectUri,
    );
    assert.ok(
      back.url.startsWith(accepts.redirectUri) && new URL(back.url).searchParams.get('code'),
      `${identifier}: ${back.status} ${back.url}`,
    );
  }
  // The e-mail works too; a wrong password does not.
  const ua = new UserAgent();
  const login = await ua.get((await authorizationRequest(accepts)).url.href, accepts.redirectUri);
  const byEmail = await ua.post(
    formAction(login, '/login'),
    { identifier: lucia.email!, password: PASSWORD },
    accepts.redirectUri,
  );
  assert.ok(byEmail.url.startsWith(accepts.redirectUri));
  const bad = new UserAgent();
  const badLogin = await bad.get((await authorizationRequest(accepts)).url.href, accepts.redirectUri);
  const wrong = await bad.post(formAction(badLogin, '/login'), {
    identifier: '612 345 678',
    country: 'ES',
    password: 'not the password at all 1',
  });
  assert.equal(wrong.status, 401);
});

test('numbers that cannot or may not receive an SMS are refused before any SMS, each with its reason', async () => {
  const cases: [string, string, string][] = [
    ['+34 612', 'ES', 'foreign.phone_invalid'],
    ['+44 20 7946 0958', 'GB', 'foreign.phone_not_mobile'],
    ['+34 806 123 456', 'ES', 'foreign.phone_premium'],
    ['+351 912 345 678', 'PT', 'foreign.phone_country_disabled'],
  ];
  for (const [phone, country, reason] of cases) {
    const { page } = await startRegistration(new UserAgent(), accepts, {
      ...john,
      phone,
      country,
      name: 'Ana Tester Example',
    });
    assert.equal(page.status, 422, phone);
    assert.ok(page.html.includes(t('en', reason)), `${phone}: ${reason}\n${page.html.slice(0, 1500)}`);
    // What was typed comes back (not the password).
    assert.ok(page.html.includes('value="Ana Tester Example"'));
  }
  const queued = await app.db.db
    .selectFrom('messages')
    .select('recipient')
    .where('recipient', 'in', ['+44207946095', '+442079460958', '+34806123456', '+351912345678'])
    .execute();
  assert.deepEqual(queued, [], 'no SMS was even queued');
});

test('a number another account holds: the same answer as a new one, no code to it, its owner told by SMS', async () => {
  const ua = new UserAgent();
  const before = sent(john.e164);
  const { page } = await startRegistration(ua, accepts, { ...john, name: 'Mallory Someone Else' });
  assert.match(page.url, /\/register-foreign\/code$/, 'the same page as for a new number');
  assert.equal(page.status, 200);
  const notice = await smsTo(john.e164, before + 1);
  assert.equal(notice, messages.en['sms.phone_registration_attempt'], 'the owner is told, in their language');
  assert.doesNotMatch(notice, /\d{6}/, 'no code goes to the number');
  // Nothing typed there proves anything, not even the last code the owner received.
  const guess = await ua.post(formAction(page, '/register-foreign/code'), { code: '123456' });
  assert.equal(guess.status, 422);
  assert.ok(guess.html.includes(t('en', 'email_code.invalid').replace('{tries}', '4')));
  assert.equal(await accountsWith(john.e164), 1, 'the number stays with its owner, and only there');
});

test('an expired code is refused and creates nothing', async () => {
  const who: Foreigner = {
    country: 'AR',
    phone: '+54 9 11 2345 6789',
    e164: '+5491123456789',
    name: 'Martín Gómez Ruiz',
    nationality: 'AR',
    locale: 'es',
  };
  const ua = new UserAgent();
  const { page } = await startRegistration(ua, accepts, who);
  const code = codeOf(await smsTo(who.e164, 1));
  await app.db.db
    .updateTable('flows')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('kind', '=', 'phone_registration')
    .where('state', '!=', 'done')
    .execute();
  const expired = await ua.post(formAction(page, '/register-foreign/code'), { code });
  assert.equal(expired.status, 422);
  assert.ok(expired.html.includes(t('es', 'email_code.expired')), expired.html.slice(0, 2000));
  assert.equal(await accountsWith(who.e164), 0);
});

test('accepting foreigners is a per-service setting, off by default, in the admin API', async () => {
  const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const shown = await (
    await fetch(`${app.url}/admin/api/services/${refuses.clientId}`, { headers: auth })
  ).json();
  assert.equal(shown.service.acceptsForeigners, false);
  const patched = await fetch(`${app.url}/admin/api/services/${refuses.clientId}`, {
    method: 'PATCH',
    headers: auth,
    body: JSON.stringify({ acceptsForeigners: 'yes' }),
  });
  assert.equal(patched.status, 400, 'a boolean, nothing else');
  const ok = await fetch(`${app.url}/admin/api/services/${accepts.clientId}`, { headers: auth });
  assert.equal((await ok.json()).service.acceptsForeigners, true);
});

test('a foreigner who obtains a CPF adds it on /conta and the account becomes a regular one, services and consents kept', async () => {
  const who: Foreigner = {
    country: 'US',
    phone: '(202) 555-0143',
    e164: '+12025550143',
    name: 'Grace Newcomer Hopper',
    nationality: 'US',
    locale: 'en',
  };
  const { ua, claims } = await registerAndConsent(accepts, who);
  const before = await app.db.db
    .selectFrom('consent_current')
    .select(['client_id', 'fields_shared'])
    .where('citizen_id', '=', claims.sub)
    .execute();
  assert.equal(before.length, 1);

  const account = await ua.get(`${app.url}/conta`);
  assert.match(
    account.html,
    /<html lang="en"/,
    'the account pages speak the language chosen at registration',
  );
  const data = await ua.get(`${app.url}/conta/dados`);
  assert.match(data.html, /name="f_passport_number"/, 'a foreigner may keep a passport number');
  // The language chosen again: the pages follow at once.
  const relabelled = await ua.post(formAction(data, '/conta/dados'), {
    ...formFields(data, '/conta/dados'),
    f_locale: 'es',
  });
  assert.match(relabelled.html, /<html lang="es"/);
  assert.equal(
    (
      await app.db.db
        .selectFrom('citizens')
        .select('locale')
        .where('id', '=', claims.sub)
        .executeTakeFirstOrThrow()
    ).locale,
    'es',
  );
  await ua.post(formAction(relabelled, '/conta/dados'), {
    ...formFields(relabelled, '/conta/dados'),
    f_locale: 'en',
  });
  assert.ok(account.html.includes(t('en', 'account.cpf_add')));
  const form = await ua.get(`${app.url}/conta/cpf`);
  const badDigits = await ua.post(formAction(form, '/conta/cpf'), { cpf: '529.982.247-26' });
  assert.equal(badDigits.status, 422);
  assert.ok(badDigits.html.includes(t('en', 'register.cpf_invalid')));
  const brazilian = await seedCitizen(app.db.db);
  const taken = await ua.post(formAction(badDigits, '/conta/cpf'), { cpf: brazilian.cpf });
  assert.equal(taken.status, 409);
  assert.ok(taken.html.includes(t('en', 'account.cpf_taken')));
  const still = await app.db.db
    .selectFrom('citizens')
    .select('cpf')
    .where('id', '=', claims.sub)
    .executeTakeFirstOrThrow();
  assert.equal(still.cpf, null, 'nothing changed');

  const own = cpfFromBase('529982247');
  const added = await ua.post(formAction(taken, '/conta/cpf'), { cpf: own });
  assert.match(added.url, /\/conta\?cpf=1$/);
  assert.ok(added.html.includes(t('en', 'account.cpf_added')));
  assert.ok(!added.html.includes(t('en', 'account.cpf_add')), 'no second CPF');
  const row = await app.db.db
    .selectFrom('citizens')
    .select(['cpf', 'phone_number_verified'])
    .where('id', '=', claims.sub)
    .executeTakeFirstOrThrow();
  assert.deepEqual(row, { cpf: own.replace(/\D/g, ''), phone_number_verified: true });
  const after = await app.db.db
    .selectFrom('consent_current')
    .select(['client_id', 'fields_shared'])
    .where('citizen_id', '=', claims.sub)
    .execute();
  assert.deepEqual(after, before, 'the consents are kept');
  assert.doesNotMatch(
    (await ua.get(`${app.url}/conta/dados`)).html,
    /name="f_passport_number"/,
    'a regular account has no passport field',
  );

  // A regular account now: the CPF signs in, and the service that refused foreigners lets it through.
  const signIn = new UserAgent();
  const auth = await authorizationRequest(refuses);
  const login = await signIn.get(auth.url.href, refuses.redirectUri);
  const consent = await signIn.post(
    formAction(login, '/login'),
    { identifier: own, password: PASSWORD },
    refuses.redirectUri,
  );
  assert.ok(consent.html.includes('name="decision"'), consent.html.slice(0, 2000));
  const back = await answerConsent(signIn, consent, refuses);
  const tokens = await exchange(refuses, auth, back.url);
  assert.equal(tokens.claims()!.sub, claims.sub, 'the same account');
  assert.equal(tokens.claims()!.cpf, own.replace(/\D/g, ''));
});

test('the operator turns the setting on and off with the CLI; the login page follows', async () => {
  const store = createServiceStore(app.db.db, { provider: createProviderState() });
  const out: string[] = [];
  const io = { log: (line: string) => out.push(line), error: (line: string) => out.push(line) };
  const noLink = async () => {
    const page = await new UserAgent().get(
      (await authorizationRequest(refuses)).url.href,
      refuses.redirectUri,
    );
    return !page.html.includes('/register-foreign');
  };
  assert.ok(await noLink());
  assert.equal(
    await serviceCommand(['update', refuses.clientId, '--accepts-foreigners', '--json'], store, io),
    0,
  );
  assert.equal(JSON.parse(out.at(-1)!).service.acceptsForeigners, true);
  assert.equal(await noLink(), false, 'the foreign path appears');
  assert.equal(
    await serviceCommand(['update', refuses.clientId, '--no-accepts-foreigners', '--json'], store, io),
    0,
  );
  assert.equal(JSON.parse(out.at(-1)!).service.acceptsForeigners, false);
  assert.ok(await noLink());
});
