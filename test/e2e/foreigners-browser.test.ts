import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createI18n, type Locale } from '../../src/platform/i18n.ts';
import { browserProfiles, checkPage as check, expectPage, launchChromium } from '../helpers/browser.ts';
import { addService, authorizationRequest, type TestService } from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/*
 * A foreigner's registration in a real browser (Debian's Chromium), on a phone, in English and in
 * Spanish: the login page's "no CPF" path, the form (first with errors), the SMS code, consent, and
 * back at the service; axe-core on every page shown.
 */

const i18n = createI18n();
const received: { to: string; text: string }[] = [];

describe('a foreigner in a real browser, on a phone', { timeout: 240_000, concurrency: true }, () => {
  let gateway: Server;
  let app: TestApp;
  let browser: Browser;
  let svc: TestService;
  let profiles: ReturnType<typeof browserProfiles>;

  before(async () => {
    gateway = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.statusCode = 202;
        res.end();
      });
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    const port = (gateway.address() as { port: number }).port;
    app = await startTestApp({ SMS_GATEWAY_URL: `http://127.0.0.1:${port}/sms`, SMS_COUNTRIES: 'BR,US,AR' });
    svc = await addService(app, {
      acceptsForeigners: true,
      fields: [
        {
          key: 'name',
          required: true,
          purpose: { 'pt-BR': 'para identificar você', en: 'to know who you are', es: 'para identificarle' },
        },
        { key: 'cpf', required: true, purpose: 'para cruzar com o cadastro municipal' },
        {
          key: 'phone_number',
          required: true,
          purpose: { 'pt-BR': 'para avisos', en: 'to reach you', es: 'para avisarle' },
        },
        {
          key: 'nationality',
          required: false,
          purpose: { 'pt-BR': 'estatística', en: 'statistics', es: 'estadística' },
        },
      ],
    });
    browser = await launchChromium();
    profiles = browserProfiles(browser, app.url);
  });

  after(async () => {
    await profiles?.close();
    await browser?.close().catch(() => {});
    await app?.stop();
    gateway?.close();
  });

  async function smsCode(to: string): Promise<string> {
    // Waits on the gateway receiving it (the test's timeout bounds the wait).
    while (!received.some((r) => r.to === to)) await new Promise((r) => setTimeout(r, 50));
    return received.find((r) => r.to === to)!.text.match(/\b(\d{6})\b/)![1]!;
  }

  const journeys: {
    locale: Locale;
    country: string;
    countryName: string;
    phone: string;
    e164: string;
    name: string;
  }[] = [
    {
      locale: 'en',
      country: 'US',
      countryName: 'United States',
      phone: '(650) 253-0000',
      e164: '+16502530000',
      name: 'Ada Traveller Byron',
    },
    {
      locale: 'es',
      country: 'AR',
      countryName: 'Argentina',
      phone: '+54 9 11 2345 6789',
      e164: '+5491123456789',
      name: 'Julio Cortázar Descotte',
    },
  ];

  for (const j of journeys) {
    test(`registers without a CPF in ${j.locale}`, async () => {
      const t = i18n.translator(j.locale);
      const w = await profiles.open({ phone: true, locale: j.locale });
      const { page } = w;
      await page.route(`${svc.redirectUri}**`, (route) =>
        route.fulfill({
          status: 200,
          contentType: 'text/html',
          body: '<!doctype html><title>service</title>',
        }),
      );
      const auth = await authorizationRequest(svc, { ui_locales: j.locale });
      await page.goto(auth.url.href);
      await expectPage(page, j.locale, t('login.title'));
      await check(w, 'login page');
      await page.getByRole('link', { name: t('foreign.no_cpf') }).click();
      await expectPage(page, j.locale, t('foreign.title'));
      await check(w, 'foreign registration form');

      // Sent empty first: every error named, in the person's language, and the page still accessible.
      await page.getByRole('button', { name: t('foreign.submit') }).click();
      await expectPage(page, j.locale, t('foreign.title'));
      await page.getByText(t('foreign.phone_required')).first().waitFor();
      await check(w, 'foreign registration form with errors');

      // By their visible labels: a field without a working label would fail here.
      await page.getByLabel(t('foreign.country'), { exact: true }).selectOption(j.country);
      await page.getByLabel(t('foreign.phone'), { exact: true }).fill(j.phone);
      await page.getByLabel(t('field.name.label'), { exact: true }).fill(j.name);
      await page.getByLabel(t('field.birthdate.label'), { exact: true }).fill('1991-07-15');
      await page.getByLabel(t('field.nationality.label'), { exact: true }).selectOption(j.country);
      assert.equal(
        await page.getByLabel(t('field.locale.label'), { exact: true }).inputValue(),
        j.locale,
        'the page language is the preferred one by default',
      );
      await page.getByLabel(t('register.password'), { exact: true }).fill('a long walk by the river 58');
      await page.getByRole('button', { name: t('foreign.submit') }).click();

      await expectPage(page, j.locale, t('foreign.code_title'));
      await check(w, 'SMS code page');
      await page.getByLabel(t('email_code.code'), { exact: true }).fill(await smsCode(j.e164));
      await page.getByRole('button', { name: t('email_code.submit') }).click();

      const service = await app.db.db
        .selectFrom('services')
        .select('name')
        .where('client_id', '=', svc.clientId)
        .executeTakeFirstOrThrow();
      await expectPage(page, j.locale, t('consent.title', { service: service.name }));
      assert.equal(await page.locator('input[name="f_cpf"]').count(), 0, 'no CPF asked');
      await check(w, 'consent page');
      await page.getByRole('button', { name: t('consent.accept') }).click();
      await page.waitForURL((url) => url.href.startsWith(svc.redirectUri));
      assert.ok(new URL(page.url()).searchParams.get('code'), 'the service got a code');
      assert.deepEqual(w.problems, []);
    });
  }
});
