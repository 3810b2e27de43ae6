import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { DEMO_SERVICES } from '../../src/demo/demo-services.ts';
import { createI18n, type Locale, type Translate } from '../../src/platform/i18n.ts';
import {
  browserProfiles,
  checkPage as check,
  escapeRegExp,
  expectPage,
  launchChromium,
  type OpenOptions,
  runAxe,
  STEP_BOUND_MS,
  type Watched,
} from '../helpers/browser.ts';
import { newCitizen } from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/*
 * The citizen's journey in a real browser (Debian's Chromium through playwright-core): a demo
 * service, registration, the e-mail code, consent, single sign-on at a second service and logout,
 * in each language, on a phone and without JavaScript, with axe-core run on every page shown.
 */

const i18n = createI18n();
const LANGUAGE_NAMES: Record<Locale, string> = { 'pt-BR': 'Português', en: 'English', es: 'Español' };
const SERVICE = 'Serviço de demonstração';
const SECOND = 'Segundo serviço de demonstração';
const declares = (service: string, field: string) =>
  DEMO_SERVICES.some((d) => d.name === service && d.fields.some((f) => f.key === field));
const STRONG_PASSWORD = 'girassol azul na janela 42';
const SCREENSHOT = '/tmp/cidadela-consent-phone.png';

// The journeys are independent (own browser profile, own citizen) and run side by side.
// No suite-wide time limit: on a busy machine the journeys side by side are slow, not broken
// (npm test bounds each test; every browser step is bounded in helpers/browser.ts).
describe('the citizen in a real browser', { concurrency: true }, () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let browser: Browser;
  let profiles: ReturnType<typeof browserProfiles>;
  const open = (options: OpenOptions = {}): Promise<Watched> => profiles.open(options);

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url });
    browser = await launchChromium();
    profiles = browserProfiles(browser, app.url);
  });

  after(async () => {
    await profiles?.close();
    await browser?.close().catch(() => {});
    await app?.stop();
    await smtp?.close();
  });

  async function claimsOf(page: Page): Promise<Record<string, string>> {
    await page.locator('#claims').waitFor();
    const keys = await page.locator('#claims dt').allTextContents();
    const values = await page.locator('#claims dd').allTextContents();
    return Object.fromEntries(keys.map((k, i) => [k.trim(), values[i] ?? '']));
  }

  async function fillRegistration(page: Page, t: Translate, data: ReturnType<typeof newCitizen>) {
    // By their visible labels: a field without a working label would fail here.
    await page.getByLabel(t('register.cpf'), { exact: true }).fill(data.cpf);
    await page.getByLabel(t('register.name'), { exact: true }).fill(data.name);
    await page.getByLabel(t('register.birthdate'), { exact: true }).fill(data.birthdate);
    await page.getByLabel(t('register.email'), { exact: true }).fill(data.email);
    await page.getByLabel(t('register.password'), { exact: true }).fill(data.password);
  }

  function otherCode(code: string): string {
    return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
  }

  /** Demo service → login → registration (a first attempt with errors) → code → consent → back at the service. */
  async function registerAtDemo(w: Watched, locale: Locale, data: ReturnType<typeof newCitizen>) {
    const { page } = w;
    const t = i18n.translator(locale);
    await page.locator('#login').click();
    await page.waitForURL(/\/interaction\/[^/]+$/);
    await expectPage(page, locale, t('login.title'));
    assert.ok(
      ((await page.locator('main .notice').textContent()) ?? '').includes(SERVICE),
      'names the service',
    );
    await check(w, 'login page');

    await page.getByRole('link', { name: t('login.register'), exact: true }).click();
    await page.waitForURL(/\/interaction\/[^/]+\/register$/);
    await expectPage(page, locale, t('register.title'));
    await check(w, 'registration page');

    // A first attempt with a CPF whose check digits are wrong: told why, nothing typed lost but the password.
    await fillRegistration(page, t, { ...data, cpf: '123.456.789-00' });
    await page.getByRole('button', { name: t('register.submit'), exact: true }).click();
    await page.locator('.errors[role=alert]').waitFor();
    await expectPage(page, locale, t('register.title'));
    assert.match(
      (await page.locator('.errors').textContent()) ?? '',
      new RegExp(escapeRegExp(t('register.cpf_invalid'))),
    );
    assert.equal(await page.locator('#cpf').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#name').inputValue(), data.name);
    assert.equal(await page.locator('#email').inputValue(), data.email);
    assert.equal(await page.locator('#birthdate').inputValue(), data.birthdate);
    assert.equal(await page.locator('#password').inputValue(), '', 'the password is not sent back');
    await check(w, 'registration page with errors');

    await page.locator('#cpf').fill(data.cpf);
    await page.locator('#password').fill(data.password);
    // The strength hint (the page's one script, under its CSP) rates the passphrase well.
    const strong = [t('password.strength_3'), t('password.strength_4')];
    await page.waitForFunction(
      ([labels]) => labels!.includes(document.getElementById('password-strength')?.textContent ?? ''),
      [strong],
    );
    await page.getByRole('button', { name: t('register.submit'), exact: true }).click();
    await page.waitForURL(/\/confirm-email$/);
    await expectPage(page, locale, t('email_code.title'));
    const [local, domain] = data.email.split('@');
    assert.match(
      (await page.locator('main').textContent()) ?? '',
      new RegExp(`${escapeRegExp(local!.slice(0, 2))}•+@${escapeRegExp(domain!)}`),
    );
    assert.ok(
      !((await page.locator('main').textContent()) ?? '').includes(data.email),
      'the address is shown masked',
    );
    await check(w, 'e-mail code page');

    const code = codeFrom(await smtp.waitFor(data.email));
    await page.getByLabel(t('email_code.code'), { exact: true }).fill(otherCode(code));
    await page.getByRole('button', { name: t('email_code.submit'), exact: true }).click();
    await page.locator('#code-error').waitFor();
    assert.match(
      (await page.locator('#code-error').textContent()) ?? '',
      new RegExp(escapeRegExp(t('email_code.invalid', { tries: 999 })).replace('999', '\\d+')),
    );
    assert.equal(await page.locator('#code').getAttribute('aria-invalid'), 'true');
    await check(w, 'e-mail code page with a wrong code');

    await page.getByLabel(t('email_code.code'), { exact: true }).fill(code);
    await page.getByRole('button', { name: t('email_code.submit'), exact: true }).click();
    const accept = page.locator('button[name=decision][value=accept]');
    await accept.waitFor();
    await expectPage(page, locale, t('consent.title', { service: SERVICE }));
    assert.equal(await page.locator('input[type=password]').count(), 0);
    await check(w, 'consent page');
    if (w.phone && locale === 'pt-BR') await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await accept.click();

    await page.waitForURL(`${app.url}/demo/demo-servico`);
    await expectPage(page, locale, SERVICE);
    assert.equal(
      (await page.locator('main .notice[role=status]').textContent())?.trim(),
      t('demo.signed_in'),
    );
    const claims = await claimsOf(page);
    assert.equal(claims.name, data.name, 'the service received the name');
    assert.equal(claims.email, data.email, 'the service received the e-mail');
    await check(w, 'demo service, signed in');
    return claims;
  }

  test('axe-core really runs in these pages and reports a known violation', async () => {
    const w = await open();
    await w.page.goto(`${app.url}/demo/demo-servico`);
    await w.page.evaluate(() => {
      const img = document.createElement('img');
      img.src = '/static/app.css';
      document.querySelector('main')!.append(img);
    });
    const result = await runAxe(w.page);
    assert.deepEqual(
      result.violations.map((v) => v.id),
      ['image-alt'],
    );
    assert.deepEqual(result.violations[0]!.targets, ['img']);
  });

  const journeys: {
    locale: Locale;
    how: string;
    /** Chosen with the header's language links; otherwise from the browser's language. */
    viaSwitch: boolean;
    options: BrowserContextOptions & { phone?: boolean };
  }[] = [
    {
      locale: 'pt-BR',
      how: 'the default, for a browser in a language Cidadela lacks, on a phone',
      viaSwitch: false,
      options: { locale: 'de-DE', phone: true },
    },
    {
      locale: 'en',
      how: 'the language switch, from a Portuguese browser',
      viaSwitch: true,
      options: { locale: 'pt-BR' },
    },
    {
      locale: 'es',
      how: "the browser's language (Accept-Language), on a phone",
      viaSwitch: false,
      options: { locale: 'es-ES', phone: true },
    },
  ];

  for (const { locale, how, viaSwitch, options } of journeys) {
    test(`${locale} through ${how}: register, confirm, consent, second service without password, log out`, async () => {
      const w = await open(options);
      const { page, problems } = w;
      const t = i18n.translator(locale);
      const data = newCitizen({ password: STRONG_PASSWORD });

      await page.goto(`${app.url}/demo/demo-servico`);
      if (viaSwitch) {
        await expectPage(page, 'pt-BR', SERVICE);
        const nav = (l: Locale) =>
          page.getByRole('navigation', { name: i18n.translator(l)('layout.language') });
        await nav('pt-BR').getByRole('link', { name: LANGUAGE_NAMES[locale], exact: true }).click();
        await page.waitForURL(/[?&]lang=/);
        assert.equal(await nav(locale).locator('[aria-current]').textContent(), LANGUAGE_NAMES[locale]);
      }
      await expectPage(page, locale, SERVICE);
      assert.equal((await page.locator('#login').textContent())?.trim(), t('demo.sign_in'));
      await check(w, 'demo service, signed out');

      // The home page: what the account is, in the person's language, with the way to the account.
      await page.goto(`${app.url}/`);
      await expectPage(page, locale, 'Cidadela');
      assert.ok(((await page.locator('main').textContent()) ?? '').includes(t('home.services_title')));
      await check(w, 'home page');
      await page.goto(`${app.url}/demo/demo-servico`);

      await registerAtDemo(w, locale, data);

      // The second service: its own consent, no password.
      await page.getByRole('link', { name: t('demo.other'), exact: true }).click();
      await page.waitForURL(`${app.url}/demo/demo-segundo`);
      await expectPage(page, locale, SECOND);
      await check(w, 'second demo service, signed out');
      await page.locator('#login').click();
      const accept = page.locator('button[name=decision][value=accept]');
      await page.locator('button[name=decision][value=accept], input[type=password]').first().waitFor();
      assert.equal(
        await page.locator('input[type=password]').count(),
        0,
        'no password asked at the second service',
      );
      await expectPage(page, locale, t('consent.title', { service: SECOND }));
      await check(w, 'consent page of the second service');
      await accept.click();
      await page.waitForURL(`${app.url}/demo/demo-segundo`);
      const second = await claimsOf(page);
      assert.equal(second.name, data.name);
      // Each service receives only the fields it declared (and the citizen agreed to).
      assert.equal(second.email, declares(SECOND, 'email') ? data.email : undefined);
      await check(w, 'second demo service, signed in');

      // Log out at the second service: it names this session with its ID token, so the provider
      // asks nothing and ends the session everywhere (its page posts itself).
      await page.locator('#logout').click();
      await page.waitForURL(`${app.url}/demo/demo-segundo`);
      await page.locator('#login').waitFor();
      assert.equal(await page.locator('#claims').count(), 0);
      await expectPage(page, locale, SECOND);
      await check(w, 'second demo service after logout');

      // The first service learnt of the logout through back-channel logout.
      await page.goto(`${app.url}/demo/demo-servico`);
      // Until the service has processed it: each round waits on a page load; the bound ends a hang.
      const deadline = Date.now() + STEP_BOUND_MS;
      while ((await page.locator('#login').count()) === 0 && Date.now() < deadline) {
        await page.waitForTimeout(250);
        await page.reload();
      }
      assert.equal(await page.locator('#login').count(), 1, 'the first service shows the login button again');
      assert.equal(await page.locator('#claims').count(), 0);
      await check(w, 'first demo service after logout');

      // The Cidadela session is gone: signing in asks for the password again, and the CPF with it works.
      await page.locator('#login').click();
      await page.waitForURL(/\/interaction\/[^/]+$/);
      await expectPage(page, locale, t('login.title'));
      await page.getByLabel(t('login.identifier'), { exact: true }).fill(data.cpf);
      await page.getByLabel(t('login.password'), { exact: true }).fill(data.password);
      await page.getByRole('button', { name: t('login.submit'), exact: true }).click();
      // oidc-provider drops a service's grant at logout, so its consent may be asked again.
      await page.locator('#claims, button[name=decision][value=accept]').first().waitFor();
      if (await page.locator('button[name=decision][value=accept]').count()) {
        await expectPage(page, locale, t('consent.title', { service: SERVICE }));
        await page.locator('button[name=decision][value=accept]').click();
      }
      await page.waitForURL(`${app.url}/demo/demo-servico`);
      assert.equal((await claimsOf(page)).email, data.email, 'signed in again with CPF and password');

      // Logging out at Cidadela itself (no service asking) ends on the provider's own page.
      await page.goto(`${app.url}/oidc/session/end`);
      await expectPage(page, locale, t('logout.title'));
      assert.match(
        (await page.locator('main').textContent()) ?? '',
        new RegExp(escapeRegExp(t('logout.question'))),
      );
      await check(w, 'logout confirmation without a service');
      await page.locator('button[name=logout][value=yes]').click();
      await page.waitForURL(/\/oidc\/session\/end\/success/);
      await expectPage(page, locale, t('logout.done_title'));
      assert.match(
        (await page.locator('main').textContent()) ?? '',
        new RegExp(escapeRegExp(t('logout.done'))),
      );
      await check(w, 'logged-out page');

      assert.deepEqual(problems, []);
    });
  }

  test('without JavaScript: login page, registration, code and consent all work', async () => {
    const w = await open({ javaScriptEnabled: false, locale: 'pt-BR' });
    const { page, problems } = w;
    const t = i18n.translator('pt-BR');
    const data = newCitizen({ password: STRONG_PASSWORD });
    await page.goto(`${app.url}/demo/demo-servico`);
    await expectPage(page, 'pt-BR', SERVICE);
    await check(w, 'demo service without JavaScript');
    await page.locator('#login').click();
    await page.waitForURL(/\/interaction\/[^/]+$/);
    await expectPage(page, 'pt-BR', t('login.title'));
    await check(w, 'login page without JavaScript');
    await page.getByRole('link', { name: t('login.register'), exact: true }).click();
    await page.waitForURL(/\/register$/);
    await fillRegistration(page, t, data);
    // The strength hint is the page's one script: with JavaScript really off it stays silent.
    await page.waitForTimeout(1_000);
    assert.equal((await page.locator('#password-strength').textContent())?.trim(), '');
    await check(w, 'registration page without JavaScript');
    await page.getByRole('button', { name: t('register.submit'), exact: true }).click();
    await page.waitForURL(/\/confirm-email$/);
    await expectPage(page, 'pt-BR', t('email_code.title'));
    await check(w, 'e-mail code page without JavaScript');
    await page
      .getByLabel(t('email_code.code'), { exact: true })
      .fill(codeFrom(await smtp.waitFor(data.email)));
    await page.getByRole('button', { name: t('email_code.submit'), exact: true }).click();
    await page.locator('button[name=decision][value=accept]').waitFor();
    await expectPage(page, 'pt-BR', t('consent.title', { service: SERVICE }));
    await check(w, 'consent page without JavaScript');
    await page.locator('button[name=decision][value=accept]').click();
    await page.waitForURL(`${app.url}/demo/demo-servico`);
    const claims = await claimsOf(page);
    assert.equal(claims.email, data.email);
    await check(w, 'demo service signed in, without JavaScript');
    // Logging out at the service: no question, one button to go on where the script cannot run.
    await page.locator('#logout').click();
    await page.waitForURL(/\/oidc\/session\/end/);
    await expectPage(page, 'pt-BR', t('selfpost.logout_title'));
    assert.match((await page.locator('main').textContent()) ?? '', new RegExp(escapeRegExp(t('selfpost.logout_text', { service: SERVICE }))));
    assert.equal(await page.locator('button[name=logout]').count(), 0, 'no yes/no question');
    await check(w, 'logout without a question, without JavaScript');
    await page.getByRole('button', { name: t('selfpost.continue'), exact: true }).click();
    await page.waitForURL(`${app.url}/demo/demo-servico`);
    await page.locator('#login').waitFor();
    assert.deepEqual(problems, []);
  });

  test('a name with a script tag is shown as text everywhere and never runs', async () => {
    const w = await open({ locale: 'en-US' });
    const { page, problems } = w;
    const name = 'Ana <script>alert(1)</script> Souza';
    const data = newCitizen({ name, password: STRONG_PASSWORD });
    await page.goto(`${app.url}/demo/demo-servico`);
    await expectPage(page, 'en', SERVICE);
    const claims = await registerAtDemo(w, 'en', data);
    assert.equal(claims.name, name);
    assert.equal(await page.locator('main script').count(), 0);
    assert.deepEqual(problems, [], 'no dialog, no script error');
  });
});
