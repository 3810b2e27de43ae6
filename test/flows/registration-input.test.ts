import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createCitizenStore } from '../../src/identity/citizen-store.ts';
import { formatCpf } from '../../src/identity/cpf.ts';
import { escapeHtml } from '../../src/web/html.ts';
import { type Locale, loadMessages } from '../../src/platform/i18n.ts';
import { AppError } from '../../src/platform/errors.ts';
import {
  addService,
  authorizationRequest,
  newCitizen,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction, type Page } from '../helpers/user-agent.ts';

const messages = loadMessages();

/** The page is in `locale` and shows the message `key` (escaped, as a browser would receive it). */
function assertMessage(page: Page, locale: Locale, key: string, params: Record<string, string | number> = {}) {
  assert.match(page.html, new RegExp(`<html lang="${locale}">`), `page language: expected ${locale}`);
  const template = messages[locale][key];
  assert.ok(template, `no ${locale} message for ${key}`);
  const text = template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
  assert.ok(page.html.includes(escapeHtml(text)), `expected the ${locale} message for ${key} ("${text}") on ${page.url}:\n${page.html.slice(0, 3000)}`);
}

/** Every typed value is back in its input, except the password, which appears nowhere. */
function assertKept(page: Page, typed: Record<string, string>) {
  for (const [name, value] of Object.entries(typed)) {
    const input = page.html.match(new RegExp(`<input id="${name}" name="${name}"[^>]*>`))?.[0];
    assert.ok(input, `the form still has the ${name} field`);
    if (name === 'password') {
      assert.match(input, /value=""/, 'the password field comes back empty');
      // (A password made of the CPF or e-mail is of course on the page, in those fields.)
      const elsewhere = Object.entries(typed).some(([k, v]) => k !== 'password' && v.includes(value));
      if (value && !elsewhere) assert.ok(!page.html.includes(value) && !page.html.includes(escapeHtml(value)), 'the password is nowhere on the page');
    } else {
      assert.ok(input.includes(`value="${escapeHtml(value)}"`), `${name} keeps "${value}": ${input}`);
    }
  }
}

const LANGS: Record<Locale, Record<string, string>> = {
  'pt-BR': {},
  en: { 'accept-language': 'en-GB,en;q=0.9,pt;q=0.5' },
  es: { 'accept-language': 'es-AR,es;q=0.9' },
};

let ipCounter = 0;
/**
 * A browser of its own address (the app trusts X-Forwarded-For here): the many refusals below would
 * otherwise reach the per-address registration limit, which is not what this file tests.
 */
function browser(locale: Locale = 'pt-BR'): UserAgent {
  ipCounter++;
  return new UserAgent({ ...LANGS[locale], 'x-forwarded-for': `10.30.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}` });
}

describe('registration: bad input is refused clearly, keeps what was typed, and changes nothing', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let svc: TestService;
  /** A citizen registered (and confirmed) before the bad-input cases, to collide with. */
  let existing: ReturnType<typeof newCitizen>;

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url, TRUST_PROXY: 'true' });
    svc = await addService(app);
    const ua = browser();
    const { page, citizen } = await registerThroughService(ua, svc, await authorizationRequest(svc), smtp);
    assert.match(page.html, /name="decision"/, 'the first registration reaches the consent page');
    existing = citizen;
  });

  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  async function counts() {
    const db = app.db.db;
    const count = async (table: 'citizens' | 'flows' | 'messages') =>
      Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    return { citizens: await count('citizens'), flows: await count('flows'), messages: await count('messages') };
  }

  /** A new browser at the registration form of a fresh authorization request, in `locale`. */
  async function openForm(locale: Locale) {
    const ua = browser(locale);
    const auth = await authorizationRequest(svc);
    const login = await ua.get(auth.url.href, svc.redirectUri);
    assert.equal(login.status, 200);
    const href = login.html.match(/href="(\/interaction\/[^"]+\/register)"/)?.[1];
    assert.ok(href, 'the login page links to registration');
    const form = await ua.get(new URL(href, login.url).href);
    assert.equal(form.status, 200);
    assertMessage(form, locale, 'register.title');
    return { ua, form, action: formAction(form, '/register') };
  }

  /** Submits the registration form and checks that the database did not change. */
  async function submitRefused(locale: Locale, fields: Record<string, string>) {
    const { ua, action } = await openForm(locale);
    const before = await counts();
    const page = await ua.post(action, fields, svc.redirectUri);
    assert.deepEqual(await counts(), before, 'no citizen, flow or message was created');
    return page;
  }

  for (const locale of ['pt-BR', 'en'] as const) {
    test(`an invalid CPF (${locale})`, async () => {
      const typed = newCitizen({ cpf: '123.456.789-00', phone_number: '(41) 99999-0000', social_name: 'Jô Silva' });
      const page = await submitRefused(locale, typed);
      assert.equal(page.status, 422);
      assertMessage(page, locale, 'register.cpf_invalid');
      assert.match(page.html, /<input id="cpf"[^>]*aria-invalid="true"/, 'the CPF field is marked invalid');
      assertKept(page, typed);
    });
  }

  test('CPF check digits, letters and repeated digits are all invalid CPFs', async () => {
    for (const cpf of ['529.982.247-26', '5299822472a', '111.111.111-11', '5299822472']) {
      const page = await submitRefused('es', newCitizen({ cpf }));
      assert.equal(page.status, 422, cpf);
      assertMessage(page, 'es', 'register.cpf_invalid');
    }
  });

  for (const locale of ['pt-BR', 'es'] as const) {
    test(`a CPF already registered, typed with other punctuation (${locale})`, async () => {
      const typed = newCitizen({ cpf: formatCpf(existing.cpf) });
      const page = await submitRefused(locale, typed);
      assert.equal(page.status, 422);
      assertMessage(page, locale, 'register.cpf_taken');
      assertKept(page, typed);
    });

    test(`an e-mail already registered, in other letter case (${locale})`, async () => {
      const typed = newCitizen({ email: existing.email.toUpperCase() });
      const page = await submitRefused(locale, typed);
      assert.equal(page.status, 422);
      assertMessage(page, locale, 'register.email_taken');
      assertKept(page, typed);
    });
  }

  test('a taken CPF is told at once even while the e-mail is wrong, and a taken e-mail while the CPF is', async () => {
    const cpfTaken = newCitizen({ cpf: existing.cpf, email: 'joana@@example' });
    const first = await submitRefused('en', cpfTaken);
    assert.equal(first.status, 422);
    assertMessage(first, 'en', 'register.cpf_taken');
    assertMessage(first, 'en', 'register.email_invalid');
    assertKept(first, cpfTaken);
    const emailTaken = newCitizen({ cpf: '123', email: existing.email });
    const second = await submitRefused('pt-BR', emailTaken);
    assert.equal(second.status, 422);
    assertMessage(second, 'pt-BR', 'register.cpf_invalid');
    assertMessage(second, 'pt-BR', 'register.email_taken');
    assertKept(second, emailTaken);
  });

  test('two registrations racing for the same e-mail (other case): the loser is told about the e-mail', async () => {
    // Validation ran before the other insert committed; only the unique index stops the second one.
    const store = createCitizenStore(app.db.db);
    const before = await counts();
    await assert.rejects(
      store.create({
        cpf: newCitizen().cpf,
        email: existing.email.toUpperCase(),
        name: 'Outra Pessoa',
        socialName: null,
        birthdate: '1990-01-01',
        phoneNumber: null,
        passwordHash: 'x',
        locale: 'pt-BR',
      }),
      (e) => e instanceof AppError && e.code === 'identifier.email_taken' && e.status === 409,
    );
    await assert.rejects(
      store.create({
        cpf: existing.cpf,
        email: newCitizen().email,
        name: 'Outra Pessoa',
        socialName: null,
        birthdate: '1990-01-01',
        phoneNumber: null,
        passwordHash: 'x',
        locale: 'pt-BR',
      }),
      (e) => e instanceof AppError && e.code === 'identifier.cpf_taken' && e.status === 409,
    );
    assert.deepEqual(await counts(), before);
  });

  for (const [locale, password, key] of [
    ['pt-BR', 'senha123', 'password.common'],
    ['en', 'password1', 'password.common'],
    ['es', '12345678', 'password.common'],
    ['pt-BR', 'abc', 'password.too_short'],
    ['en', 'x'.repeat(129), 'password.too_long'],
  ] as const) {
    test(`a weak or common password: "${password.slice(0, 12)}" (${locale})`, async () => {
      const typed = newCitizen({ password });
      const page = await submitRefused(locale, typed);
      assert.equal(page.status, 422);
      assertMessage(page, locale, key);
      assertKept(page, typed);
    });
  }

  test('a password built from the own CPF, name, birth date or e-mail', async () => {
    const base = newCitizen({ name: 'Marcela Quintanilha Bragança', birthdate: '1979-11-05' });
    const local = base.email.split('@')[0]!;
    const attempts: [Locale, string][] = [
      ['pt-BR', base.cpf],
      ['en', formatCpf(base.cpf)],
      ['es', 'quintanilha1979'],
      ['pt-BR', 'Marcela05111979'],
      ['en', 'braganca.marcela'],
      ['pt-BR', `${local}!`],
    ];
    for (const [locale, password] of attempts) {
      const typed = { ...base, password };
      const page = await submitRefused(locale, typed);
      assert.equal(page.status, 422, password);
      assertMessage(page, locale, 'password.personal');
      assertKept(page, typed);
    }
  });

  for (const locale of ['pt-BR', 'en'] as const) {
    test(`missing fields: each one is named (${locale})`, async () => {
      const page = await submitRefused(locale, {});
      assert.equal(page.status, 422);
      for (const key of ['register.cpf_required', 'register.name_invalid', 'register.birthdate_invalid', 'register.email_invalid', 'password.too_short']) {
        assertMessage(page, locale, key);
      }
      // The optional fields are not errors.
      assert.doesNotMatch(page.html, /id="social_name-error"|id="phone_number-error"/);
      assert.match(page.html, new RegExp(`<h2>${escapeHtml(messages[locale]['form.errors_title']!)}</h2>`));
    });

    test(`only the wrong fields are marked, the rest is kept (${locale})`, async () => {
      const typed = newCitizen({ birthdate: '2999-01-01', email: 'sem-arroba.example.com', phone_number: '123' });
      const page = await submitRefused(locale, typed);
      assert.equal(page.status, 422);
      assertMessage(page, locale, 'register.birthdate_invalid');
      assertMessage(page, locale, 'register.email_invalid');
      assertMessage(page, locale, 'register.phone_invalid');
      assert.doesNotMatch(page.html, /id="cpf-error"|id="name-error"|id="password-error"/);
      assertKept(page, typed);
    });
  }

  const SCRIPT = '<script>alert(1)</script>';
  const ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt;';

  test('a name with a script tag comes back escaped in the re-rendered form', async () => {
    const typed = newCitizen({ name: `Joana ${SCRIPT} Silva`, social_name: `"><img src=x onerror=alert(2)>`, cpf: '000.000.000-01' });
    const page = await submitRefused('pt-BR', typed);
    assert.equal(page.status, 422);
    assert.ok(!page.html.includes(SCRIPT), 'the raw tag is not on the page');
    assert.ok(!page.html.includes('<img src=x'), 'the attribute breakout is not on the page');
    assert.ok(page.html.includes(`value="Joana ${ESCAPED} Silva"`));
    assertKept(page, typed);
  });

  test('a name with a script tag, registered through the demo service, is escaped on every page after', async () => {
    const ua = browser('en');
    const pages: Page[] = [];
    const login = await ua.get(`${app.url}/demo/demo-servico/login`);
    pages.push(login);
    assert.equal(login.status, 200);
    const form = await ua.get(new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href);
    const citizen = newCitizen({ name: `Joana ${SCRIPT} Silva`, social_name: `Jo ${SCRIPT}` });
    const confirm = await ua.post(formAction(form, '/register'), citizen);
    pages.push(confirm);
    assert.match(confirm.url, /\/confirm-email$/, `registration went through: ${confirm.status}`);
    const code = codeFrom(await smtp.waitFor(citizen.email));
    const consent = await ua.post(formAction(confirm, '/confirm-email'), { code });
    pages.push(consent);
    assert.match(consent.html, /name="decision"/, 'the consent page comes next');
    assert.ok(consent.html.includes(`Joana ${ESCAPED} Silva`), 'the consent page shows the name to be shared, escaped');
    const claims = await ua.post(formAction(consent, '/consent'), { decision: 'accept' });
    pages.push(claims);
    assert.match(claims.url, /\/demo\/demo-servico$/);
    assert.match(claims.html, /id="claims"/, 'the demo service shows the claims it received');
    assert.ok(claims.html.includes(`Joana ${ESCAPED} Silva`), 'the name is shown, escaped');
    // And again at the second demo service, which signs in by SSO and asks its own consent.
    const second = await ua.get(`${app.url}/demo/demo-segundo/login`);
    pages.push(second);
    assert.match(second.html, /name="decision"/);
    const secondClaims = await ua.post(formAction(second, '/consent'), { decision: 'accept' });
    pages.push(secondClaims);
    assert.match(secondClaims.html, /id="claims"/);
    assert.ok(secondClaims.html.includes(`Joana ${ESCAPED} Silva`));
    for (const p of pages) {
      assert.ok(!p.html.includes(SCRIPT), `raw tag on ${p.url}`);
      assert.doesNotMatch(p.html, /<script(?![^>]*\bsrc=)/, `inline script on ${p.url}`);
    }
    const stored = await app.db.db.selectFrom('citizens').select(['name', 'social_name']).where('email', '=', citizen.email).executeTakeFirstOrThrow();
    assert.equal(stored.name, `Joana ${SCRIPT} Silva`, 'stored as typed: escaping is the pages’ job');
  });

  for (const locale of ['pt-BR', 'es'] as const) {
    test(`a 1 MB form is refused with 413 in the person's language (${locale})`, async () => {
      const { ua, action } = await openForm(locale);
      const before = await counts();
      const page = await ua.post(action, { ...newCitizen(), name: 'a'.repeat(1024 * 1024) }, svc.redirectUri);
      assert.equal(page.status, 413);
      assertMessage(page, locale, 'error.too_large');
      assert.deepEqual(await counts(), before);
    });
  }

  test('a 1 MB JSON body gets a 413 JSON answer', async () => {
    const { ua, action } = await openForm('en');
    const before = await counts();
    const response = await ua.request(action, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ ...newCitizen(), name: 'a'.repeat(1024 * 1024) }),
    });
    assert.equal(response.status, 413);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await response.json(), { error: 'error.too_large' });
    assert.deepEqual(await counts(), before);
  });

  for (const locale of ['pt-BR', 'en'] as const) {
    test(`a form without its CSRF token is refused with 403 and creates nothing (${locale})`, async () => {
      const { ua, action } = await openForm(locale);
      const before = await counts();
      const page = await ua.post(action, newCitizen(), svc.redirectUri, { csrf: false });
      assert.equal(page.status, 403);
      assertMessage(page, locale, 'csrf.title');
      assertMessage(page, locale, 'csrf.explain');
      assert.deepEqual(await counts(), before);
    });
  }

  test('a CSRF token from another browser is refused', async () => {
    const other = await openForm('pt-BR');
    const token = other.form.html.match(/name="_csrf" value="([^"]+)"/)![1]!;
    const { ua, action } = await openForm('pt-BR');
    const before = await counts();
    const page = await ua.post(action, { ...newCitizen(), _csrf: token }, svc.redirectUri);
    assert.equal(page.status, 403);
    assertMessage(page, 'pt-BR', 'csrf.title');
    assert.deepEqual(await counts(), before);
  });

  for (const [locale, how] of [
    ['pt-BR', 'altered'],
    ['es', 'unsigned'],
    ['en', 'garbage'],
  ] as const) {
    test(`a tampered interaction cookie (${how}) gets a clear 4xx page, never a 500 (${locale})`, async () => {
      const { ua, form, action } = await openForm(locale);
      const cookie = ua.cookies.get('cdl_interaction');
      assert.ok(cookie, 'the interaction cookie is set');
      if (how === 'altered') ua.cookies.set('cdl_interaction', { ...cookie, value: `${cookie.value.slice(0, -3)}AAA` });
      if (how === 'unsigned') ua.cookies.delete('cdl_interaction.sig');
      if (how === 'garbage') {
        ua.cookies.set('cdl_interaction', { ...cookie, value: '%00%ff<script>' });
        ua.cookies.set('cdl_interaction.sig', { ...cookie, value: '!!!' });
      }
      const before = await counts();
      const posted = await ua.post(action, newCitizen(), svc.redirectUri);
      assert.ok(posted.status >= 400 && posted.status < 500, `status ${posted.status}`);
      assertMessage(posted, locale, 'interaction.expired_title');
      // The page names the service it came from (remembered in its own cookie) and links back to it.
      const service = (await app.db.db.selectFrom('services').select('name').where('client_id', '=', svc.clientId).executeTakeFirstOrThrow()).name;
      assertMessage(posted, locale, 'interaction.expired_service', { service });
      assert.deepEqual(await counts(), before);
      const shown = await ua.get(form.url);
      assert.ok(shown.status >= 400 && shown.status < 500, `status ${shown.status}`);
      assertMessage(shown, locale, 'interaction.expired_service', { service });
      assert.ok(!shown.html.includes('<script>'));
    });
  }

  for (const locale of ['pt-BR', 'en'] as const) {
    test(`an unknown interaction uid gets a clear 4xx page (${locale})`, async () => {
      const { ua, form } = await openForm(locale);
      const token = form.html.match(/name="_csrf" value="([^"]+)"/)![1]!;
      const before = await counts();
      // This browser came from the service: the page names it (and links back to it).
      const service = (await app.db.db.selectFrom('services').select('name').where('client_id', '=', svc.clientId).executeTakeFirstOrThrow()).name;
      for (const path of ['/interaction/nao-existe-123', '/interaction/nao-existe-123/register']) {
        const page = await ua.get(`${app.url}${path}`);
        assert.ok(page.status >= 400 && page.status < 500, `${path}: ${page.status}`);
        assertMessage(page, locale, 'interaction.expired_service', { service });
      }
      // A form posted to an uid that is not the browser's own interaction.
      const posted = await ua.post(`${app.url}/interaction/nao-existe-123/register`, { ...newCitizen(), _csrf: token }, svc.redirectUri);
      assert.ok(posted.status >= 400 && posted.status < 500, `status ${posted.status}`);
      assertMessage(posted, locale, 'interaction.expired_service', { service });
      assert.deepEqual(await counts(), before);
    });
  }

  for (const locale of ['pt-BR', 'es'] as const) {
    test(`a NUL character in a field gets a clear 400, never a 500 (${locale})`, async () => {
      for (const field of ['name', 'email', 'password']) {
        const typed = newCitizen();
        const page = await submitRefused(locale, { ...typed, [field]: `${typed[field as keyof typeof typed]}\u0000x` });
        assert.equal(page.status, 400, field);
        assertMessage(page, locale, 'error.bad_request');
      }
    });

    test(`an over-long or malformed interaction address gets a clear 4xx page (${locale})`, async () => {
      const { ua } = await openForm(locale);
      for (const path of [`/interaction/${'a'.repeat(300)}/register`, '/interaction/%E0%A4%A/register', '/interaction/%00/register']) {
        const page = await ua.get(`${app.url}${path}`);
        assert.ok(page.status >= 400 && page.status < 500, `${path}: ${page.status}`);
        assert.match(page.headers.get('content-type') ?? '', /text\/html/, `${path}: a page, not bare JSON`);
        assert.match(page.html, new RegExp(`<html lang="${locale}">`));
        const shown = ['error.bad_request', 'interaction.expired'].filter((k) => page.html.includes(escapeHtml(messages[locale][k]!)));
        assert.equal(shown.length, 1, `${path}: a clear message`);
        assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
        assert.ok(page.headers.get('x-request-id'));
      }
    });
  }

  test('a valid registration after all that still works, and creates exactly one citizen, flow and mail', async () => {
    const { ua, action } = await openForm('es');
    const before = await counts();
    const citizen = newCitizen();
    const page = await ua.post(action, citizen, svc.redirectUri);
    assert.equal(page.status, 200);
    assert.match(page.url, /\/confirm-email$/);
    assertMessage(page, 'es', 'email_code.title');
    const afterCounts = await counts();
    assert.deepEqual(afterCounts, { citizens: before.citizens + 1, flows: before.flows + 1, messages: before.messages + 1 });
  });

  test('no server error was logged along the way', () => {
    const errors = app.logs.filter((line) => /"level":50/.test(line) || /"status":5\d\d/.test(line));
    assert.deepEqual(errors, []);
  });
});
