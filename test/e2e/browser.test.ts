import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { DEMO_SERVICES } from '../../src/demo/demo-services.ts';
import { createI18n, type Locale, type Translate } from '../../src/http/i18n.ts';
import { newCitizen } from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/*
 * The citizen's journey in a real browser (Debian's Chromium through playwright-core): a demo
 * service, registration, the e-mail code, consent, single sign-on at a second service and logout,
 * in each language, on a phone and without JavaScript, with axe-core run on every page shown.
 */

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const AXE_SOURCE = readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const i18n = createI18n();
const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};
const LANGUAGE_NAMES: Record<Locale, string> = { 'pt-BR': 'Português', en: 'English', es: 'Español' };
const SERVICE = 'Serviço de demonstração';
const SECOND = 'Segundo serviço de demonstração';
const declares = (service: string, field: string) =>
  DEMO_SERVICES.some((d) => d.name === service && d.fields.some((f) => f.key === field));
const STRONG_PASSWORD = 'girassol azul na janela 42';
const SCREENSHOT = '/tmp/cidadela-consent-phone.png';

type Violation = { id: string; impact: string | null; help: string; targets: string[] };
type Watched = {
  page: Page;
  context: BrowserContext;
  problems: string[];
  phone: boolean;
  /** With JavaScript off: a JavaScript-enabled page, its scripts blocked, to audit copies in. */
  auditor?: Page;
};

// The journeys are independent (own browser profile, own citizen) and run side by side.
describe('the citizen in a real browser', { timeout: 240_000, concurrency: true }, () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Nothing but the app on loopback resolves.
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      ],
    });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await app?.stop();
    await smtp?.close();
  });

  /** A fresh browser profile (cookies, language, screen) with every problem the page reports recorded. */
  async function open(options: BrowserContextOptions & { phone?: boolean } = {}): Promise<Watched> {
    const { phone = false, ...rest } = options;
    const context = await browser.newContext({
      ...(phone ? PHONE : { viewport: { width: 1280, height: 900 } }),
      ...rest,
    });
    contexts.push(context);
    context.setDefaultTimeout(10_000);
    context.setDefaultNavigationTimeout(15_000);
    const problems: string[] = [];
    const origin = new URL(app.url).origin;
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      problems.push(`request outside the app: ${url}`);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // Chromium reports a page shown with a 4xx status (a form sent back with errors) as a failed load.
      if (m.location().url === page.url() && /status of 4\d\d/.test(m.text())) return;
      problems.push(`console error on ${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`a ${d.type()} dialog opened on ${page.url()}: ${d.message()}`);
      d.dismiss().catch(() => {});
    });
    page.on('response', (r) => {
      if (r.status() >= 500) problems.push(`${r.status()} from ${r.url()}`);
    });
    const watched: Watched = { page, context, problems, phone };
    if (rest.javaScriptEnabled === false) {
      const copy = await open({ ...options, javaScriptEnabled: true });
      await copy.context.route(/\.js(\?|$)/, (route) => route.abort());
      watched.auditor = copy.page;
    }
    return watched;
  }

  function formatViolations(label: string, url: string, violations: Violation[]): string {
    return `axe-core found ${violations.length} violation(s) on ${label} (${url}):\n${violations
      .map((v) => `  - ${v.id} [${v.impact}] ${v.help}\n      ${v.targets.join('\n      ')}`)
      .join('\n')}`;
  }

  async function runAxe(page: Page): Promise<{ rules: number; violations: Violation[] }> {
    // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays as served.
    await page.evaluate(AXE_SOURCE);
    return page.evaluate(async () => {
      const axe = (
        window as unknown as { axe: { run(c: Document, o: object): Promise<Record<string, unknown[]>> } }
      ).axe;
      const r = await axe.run(document, { resultTypes: ['violations'] });
      const violations = r.violations as {
        id: string;
        impact: string | null;
        help: string;
        nodes: { target: string[] }[];
      }[];
      return {
        rules: r.passes!.length + r.violations!.length + r.incomplete!.length + r.inapplicable!.length,
        violations: violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.map((n) => n.target.join(' ')),
        })),
      };
    });
  }

  /**
   * axe-core on the page as shown, and on a phone no horizontal scroll. axe needs script timers, so
   * a page shown with JavaScript off is audited as a copy (same HTML, same address, same styles,
   * its scripts blocked) in a JavaScript-enabled page.
   */
  async function check(w: Watched, label: string) {
    const { page } = w;
    let result: { rules: number; violations: Violation[] };
    if (!w.auditor) {
      result = await runAxe(page);
    } else {
      const url = page.url();
      const body = await page.content();
      await w.auditor.route(
        url,
        (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body }),
        { times: 1 },
      );
      await w.auditor.goto(url);
      result = await runAxe(w.auditor);
    }
    assert.ok(result.rules > 30, `axe-core ran only ${result.rules} rules on ${label}`);
    if (result.violations.length > 0) assert.fail(formatViolations(label, page.url(), result.violations));
    if (w.phone) {
      // A phone browser zooms out to fit wide content, which widens innerWidth with it: compare the
      // document with the screen's width and with the layout viewport instead.
      const screenWidth = page.viewportSize()!.width;
      const { scrollWidth, clientWidth } = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
      }));
      assert.ok(
        scrollWidth <= Math.min(screenWidth, clientWidth),
        `${label} scrolls sideways on a ${screenWidth}px phone: the page is ${scrollWidth}px wide`,
      );
    }
  }

  async function expectPage(page: Page, locale: Locale, heading: string) {
    assert.equal(await page.locator('html').getAttribute('lang'), locale, `page language at ${page.url()}`);
    assert.equal((await page.locator('main h1').textContent())?.trim(), heading, `heading at ${page.url()}`);
  }

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
      { timeout: 5_000 },
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

    const code = codeFrom(await smtp.waitFor(data.email, 15_000));
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

      // Log out at the second service: the provider asks, then ends the session everywhere.
      await page.locator('#logout').click();
      await page.waitForURL(/\/oidc\/session\/end/);
      await expectPage(page, locale, t('logout.title'));
      assert.match(
        (await page.locator('main').textContent()) ?? '',
        new RegExp(escapeRegExp(t('logout.question_service', { service: SECOND }))),
      );
      await check(w, 'logout confirmation');
      await page.locator('button[name=logout][value=yes]').click();
      await page.waitForURL(`${app.url}/demo/demo-segundo`);
      await page.locator('#login').waitFor();
      assert.equal(await page.locator('#claims').count(), 0);
      await expectPage(page, locale, SECOND);
      await check(w, 'second demo service after logout');

      // The first service learnt of the logout through back-channel logout.
      await page.goto(`${app.url}/demo/demo-servico`);
      for (let i = 0; i < 20 && (await page.locator('#login').count()) === 0; i++) {
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

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
