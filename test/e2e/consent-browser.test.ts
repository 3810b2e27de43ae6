import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import type { Browser, Locator, Page } from 'playwright-core';
import { createI18n, type Locale, type Translate } from '../../src/platform/i18n.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import {
  browserProfiles,
  checkPage,
  escapeRegExp,
  expectPage,
  launchChromium,
  type OpenOptions,
  type Watched,
} from '../helpers/browser.ts';
import {
  addService,
  authorizationRequest,
  exchange,
  newCitizen,
  type TestService,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/*
 * A service's data contract as the citizen meets it in a real browser, in each language: the
 * registration form that asks the service's fields, the consent screen generated from the contract,
 * re-consent after new terms and a new field, and the account pages (what each service receives,
 * editing the address, revoking). axe-core runs on every Cidadela page shown.
 */

const i18n = createI18n();
const SERVICE_ORIGIN = 'http://127.0.0.1:9';

const PURPOSES: Record<string, Record<Locale, string>> = {
  address: {
    'pt-BR': 'para enviar o resultado da matrícula',
    en: 'to send the enrolment result',
    es: 'para enviar el resultado de la matrícula',
  },
  mother_name: {
    'pt-BR': 'para o cadastro escolar',
    en: 'for the school record',
    es: 'para el registro escolar',
  },
  gender: {
    'pt-BR': 'para estatísticas da rede de ensino',
    en: 'for school network statistics',
    es: 'para estadísticas de la red escolar',
  },
  phone_number: {
    'pt-BR': 'para avisar sobre a vaga por SMS',
    en: 'to tell you about the place by SMS',
    es: 'para avisarle de la plaza por SMS',
  },
  birthdate: {
    'pt-BR': 'para conferir a idade escolar',
    en: 'to check the school age',
    es: 'para comprobar la edad escolar',
  },
};
const contract = (fields: [string, boolean][]) =>
  fields.map(([key, required]) => ({ key, required, purpose: PURPOSES[key]! }));

const ADDRESS = {
  street: 'Rua XV de Novembro',
  number: '100',
  complement: 'sala 2',
  neighbourhood: 'Centro',
  city: 'Curitiba',
  region: 'PR',
};
const MOTHER = 'Maria das Dores Silva';
const PHONE_NUMBER = '(41) 98765-4321';

// Each language is its own service, citizen and browser profile: they run side by side.
// No suite-wide time limit: on a busy machine the journeys side by side are slow, not broken.
describe('a service contract in a real browser: registration, consent, re-consent, account pages', {
  concurrency: true,
}, () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let browser: Browser;
  let profiles: ReturnType<typeof browserProfiles>;

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

  /** The service's callback, answered in the browser: the service itself is the test, through openid-client. */
  async function serveCallback(w: Watched) {
    await w.context.route(`${SERVICE_ORIGIN}/**`, (route) => {
      if (!new URL(route.request().url()).pathname.startsWith('/cb/'))
        return route.fulfill({ status: 404, body: '' });
      return route.fulfill({
        status: 200,
        contentType: 'text/html; charset=utf-8',
        body: '<!doctype html><html lang="pt-BR"><title>Serviço</title><main><h1>Serviço</h1></main></html>',
      });
    });
  }

  async function backAtService(page: Page, svc: TestService): Promise<string> {
    await page.waitForURL((url) => url.href.startsWith(svc.redirectUri));
    const url = new URL(page.url());
    assert.ok(url.searchParams.get('code'), `the service got a code: ${url.href}`);
    assert.equal(url.searchParams.get('error'), null);
    return url.href;
  }

  /** The consent screen's entry for one field, found by its label. */
  function item(page: Page, t: Translate, key: string): Locator {
    return page.locator('.data-item').filter({
      has: page.locator('.data-name strong', {
        hasText: new RegExp(`^${escapeRegExp(t(`field.${key}.label`))}$`),
      }),
    });
  }

  async function text(locator: Locator): Promise<string> {
    return ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();
  }

  /**
   * A form sent back with a bad CEP: the message in the page's language sits next to the CEP input
   * and is tied to it, and the error summary's link takes the focus to it.
   */
  async function expectCepError(page: Page, t: Translate) {
    const message = t('field.address.postal_code.invalid');
    const cep = page.locator('#f_address_postal_code');
    await page.locator('.errors[role=alert]').waitFor();
    assert.equal(await text(page.locator('.field', { has: cep }).locator('.error')), message);
    assert.equal(await cep.getAttribute('aria-invalid'), 'true');
    assert.match((await cep.getAttribute('aria-describedby')) ?? '', /\bf_address_postal_code-error\b/);
    const link = page.locator('.errors a[href="#f_address_postal_code"]');
    assert.equal(await text(link), message);
    await link.click();
    await page.waitForFunction(() => document.activeElement?.id === 'f_address_postal_code');
  }

  const journeys: { locale: Locale; options: OpenOptions }[] = [
    { locale: 'pt-BR', options: { locale: 'pt-BR', phone: true } },
    { locale: 'en', options: { locale: 'en-US' } },
    { locale: 'es', options: { locale: 'es-ES', phone: true } },
  ];

  for (const { locale, options } of journeys) {
    test(`${locale}${options.phone ? ', on a phone' : ''}: the contract on registration and consent, new terms and field, account pages`, async () => {
      const t = i18n.translator(locale);
      const label = (key: string) => t(`field.${key}.label`);
      const name = `Matrícula escolar (${locale})`;
      const svc = await addService(app, {
        name,
        description: 'Matrícula na rede municipal de ensino.',
        redirectUris: [`${SERVICE_ORIGIN}/cb/${locale}`],
        termsMarkdown:
          '## Termos de uso da matrícula\n\nOs dados servem só à matrícula.\n\n### Seus direitos\n\nVocê pode revogar.',
        fields: contract([
          ['address', true],
          ['mother_name', true],
          ['gender', false],
          ['phone_number', false],
        ]),
      });
      const w = await profiles.open(options);
      const { page, problems } = w;
      await serveCallback(w);
      const citizen = newCitizen();

      // The service sends the citizen to sign in; they have no account yet.
      const first = await authorizationRequest(svc);
      await page.goto(first.url.href);
      await page.waitForURL(/\/interaction\/[^/]+$/);
      await expectPage(page, locale, t('login.title'));
      await checkPage(w, 'login page');
      await page.getByRole('link', { name: t('login.register'), exact: true }).click();
      await page.waitForURL(/\/register$/);
      await expectPage(page, locale, t('register.title'));

      // The service's required fields, generated from the catalog, in the page's language.
      assert.equal(await text(page.locator('main h2')), t('register.service_fields', { service: name }));
      const group = page.getByRole('group', { name: label('address'), exact: true });
      assert.equal(await group.getAttribute('aria-describedby'), 'f_address-hint');
      assert.equal(await page.locator('#f_address-hint').textContent(), t('field.address.help'));
      for (const part of ['postal_code', 'street_address', 'number', 'locality', 'region', 'country']) {
        await page.getByLabel(t(`field.address.${part}.label`), { exact: true }).waitFor();
      }
      await page.getByLabel(label('mother_name'), { exact: true }).waitFor();
      assert.equal(await page.locator('#f_mother_name-hint').textContent(), t('field.mother_name.help'));
      assert.equal(
        await page.locator('[name=f_gender]').count(),
        0,
        'optional service fields are not asked here',
      );
      await checkPage(w, 'registration page with the service fields');

      // First with a bad CEP.
      await page.getByLabel(t('register.cpf'), { exact: true }).fill(citizen.cpf);
      await page.getByLabel(t('register.name'), { exact: true }).fill(citizen.name);
      await page.getByLabel(t('register.birthdate'), { exact: true }).fill(citizen.birthdate);
      await page.getByLabel(t('register.email'), { exact: true }).fill(citizen.email);
      await page.locator('#phone_number').fill(PHONE_NUMBER);
      await page.getByLabel(t('field.address.postal_code.label'), { exact: true }).fill('8001-00');
      await page.getByLabel(t('field.address.street_address.label'), { exact: true }).fill(ADDRESS.street);
      await page.getByLabel(t('field.address.number.label'), { exact: true }).fill(ADDRESS.number);
      await page.locator('#f_address_complement').fill(ADDRESS.complement);
      await page.locator('#f_address_neighbourhood').fill(ADDRESS.neighbourhood);
      await page.getByLabel(t('field.address.locality.label'), { exact: true }).fill(ADDRESS.city);
      await page.getByLabel(t('field.address.region.label'), { exact: true }).selectOption(ADDRESS.region);
      await page.getByLabel(label('mother_name'), { exact: true }).fill(MOTHER);
      await page.getByLabel(t('register.password'), { exact: true }).fill(citizen.password);
      await page.getByRole('button', { name: t('register.submit'), exact: true }).click();
      await expectCepError(page, t);
      await expectPage(page, locale, t('register.title'));
      const kept: [string, string][] = [
        ['#cpf', citizen.cpf],
        ['#name', citizen.name],
        ['#email', citizen.email],
        ['#birthdate', citizen.birthdate],
        ['#phone_number', PHONE_NUMBER],
        ['#f_address_postal_code', '8001-00'],
        ['#f_address_street_address', ADDRESS.street],
        ['#f_address_number', ADDRESS.number],
        ['#f_address_complement', ADDRESS.complement],
        ['#f_address_neighbourhood', ADDRESS.neighbourhood],
        ['#f_address_locality', ADDRESS.city],
        ['#f_address_region', ADDRESS.region],
        ['#f_address_country', 'BR'],
        ['#f_mother_name', MOTHER],
        ['#password', ''],
      ];
      for (const [selector, value] of kept)
        assert.equal(await page.locator(selector).inputValue(), value, `${selector} after the error`);
      await checkPage(w, 'registration page with a bad CEP');

      await page.locator('#f_address_postal_code').fill('80010000');
      await page.getByLabel(t('register.password'), { exact: true }).fill(citizen.password);
      await page.getByRole('button', { name: t('register.submit'), exact: true }).click();
      await page.waitForURL(/\/confirm-email$/);
      await expectPage(page, locale, t('email_code.title'));
      await checkPage(w, 'e-mail code page');
      await page
        .getByLabel(t('email_code.code'), { exact: true })
        .fill(codeFrom(await smtp.waitFor(citizen.email)));
      await page.getByRole('button', { name: t('email_code.submit'), exact: true }).click();

      // The consent screen, generated from the contract.
      const accept = page.getByRole('button', { name: t('consent.accept'), exact: true });
      await accept.waitFor();
      await expectPage(page, locale, t('consent.title', { service: name }));
      assert.equal(
        await text(page.locator('.data-list > .data-item .data-name strong').first()),
        label('address'),
      );
      assert.deepEqual(
        (await page.locator('.data-list > .data-item .data-name strong').allTextContents()).map((s) =>
          s.trim(),
        ),
        ['address', 'mother_name', 'gender', 'phone_number'].map(label),
        'every field of the contract, in its order',
      );
      for (const [key, required] of [
        ['address', true],
        ['mother_name', true],
        ['gender', false],
        ['phone_number', false],
      ] as const) {
        const entry = item(page, t, key);
        assert.equal(
          await text(entry.locator('.data-purpose')),
          t('consent.purpose', { purpose: PURPOSES[key]![locale] }),
          `${key}: purpose in ${locale}`,
        );
        assert.equal(
          await text(entry.locator('.tag').first()),
          t(required ? 'consent.required' : 'consent.optional'),
          `${key}: tag`,
        );
        assert.equal(
          await entry.locator('input[type=checkbox]').count(),
          key === 'phone_number' ? 1 : 0,
          `${key}: checkbox`,
        );
      }
      const addressShown = await text(item(page, t, 'address').locator('.data-value span'));
      for (const part of [ADDRESS.street, ADDRESS.number, ADDRESS.neighbourhood, ADDRESS.city, '80010-000']) {
        assert.ok(addressShown.includes(part), `the address shown includes ${part}: ${addressShown}`);
      }
      assert.equal(await text(item(page, t, 'mother_name').locator('.data-value span')), MOTHER);
      assert.equal(await text(item(page, t, 'gender').locator('.data-value')), t('consent.not_provided'));
      const sharePhone = page.getByLabel(t('consent.share', { field: label('phone_number') }), {
        exact: true,
      });
      assert.equal(await sharePhone.isChecked(), false, 'an optional field starts unticked, even one the citizen has (opt in)');
      // Grouped, so a screen reader does not read one huge number.
      assert.equal(
        await text(item(page, t, 'phone_number').locator('.data-value span')),
        '+55 41 98765 4321',
      );
      assert.equal(await page.locator('.terms h3').first().textContent(), 'Termos de uso da matrícula');
      await checkPage(w, 'consent page');
      // Accept, decline, "Não é você?" and any optional field offered on the spot: each in the page font.
      const sameFont = await page.evaluate(() =>
        Array.from(
          document.querySelectorAll('main button, main input:not([type=checkbox]):not([type=hidden])'),
        ).map((e) => getComputedStyle(e).fontFamily === getComputedStyle(document.body).fontFamily),
      );
      assert.ok(sameFont.length >= 2 && sameFont.every(Boolean), `the buttons use the page font: ${sameFont}`);
      await accept.click();

      const tokens = await exchange(svc, first, await backAtService(page, svc));
      const id = tokens.claims()!;
      assert.equal((id.address as Record<string, string>).postal_code, '80010-000');
      assert.equal((id.address as Record<string, string>).street_address, ADDRESS.street);
      assert.equal(id.mother_name, MOTHER);
      for (const claim of ['phone_number', 'gender', 'email', 'cpf', 'birthdate', 'name']) {
        assert.equal(id[claim], undefined, `${claim} is not released`);
      }

      // New terms and a new field: the next sign-in shows the consent screen again, saying what changed.
      await createServiceStore(app.db.db, { provider: createProviderState() }).update(svc.clientId, {
        termsMarkdown: '## Termos de uso da matrícula, versão 2\n\nAgora a idade também é conferida.',
        fields: contract([
          ['address', true],
          ['mother_name', true],
          ['gender', false],
          ['phone_number', false],
          ['birthdate', false],
        ]),
      });
      const second = await authorizationRequest(svc);
      await page.goto(second.url.href);
      await accept.waitFor();
      await expectPage(page, locale, t('consent.title', { service: name }));
      const notices = (await page.locator('main .notice[role=status]').allTextContents()).map((s) =>
        s.trim(),
      );
      assert.deepEqual(notices, [
        t('consent.terms_changed', { version: 2 }),
        t('consent.fields_added', { fields: label('birthdate') }),
      ]);
      assert.equal(await text(item(page, t, 'birthdate').locator('.new-tag')), t('consent.new'));
      assert.equal(await item(page, t, 'address').locator('.new-tag').count(), 0);
      assert.equal(
        await text(page.locator('#terms-title .hint')),
        `(${t('consent.terms_version', { version: 2 })})`,
      );
      assert.equal(
        await page.locator('.terms h3').first().textContent(),
        'Termos de uso da matrícula, versão 2',
      );
      assert.equal(await sharePhone.isChecked(), false, 'the earlier choice not to share is remembered');
      const shareBirthdate = page.getByLabel(t('consent.share', { field: label('birthdate') }), { exact: true });
      assert.equal(await shareBirthdate.isChecked(), false, 'a field new to the contract starts unticked');
      await checkPage(w, 'consent page after new terms and a new field');
      await shareBirthdate.check();
      await accept.click();
      const renewed = await exchange(svc, second, await backAtService(page, svc));
      assert.equal(renewed.claims()!.birthdate, citizen.birthdate);
      assert.equal(renewed.claims()!.phone_number, undefined);

      // The account pages: what each service receives.
      await page.goto(`${app.url}/conta/servicos`);
      await page.waitForURL(`${app.url}/conta/servicos`);
      await expectPage(page, locale, t('account.section.services'));
      const mine = page.locator('.data-item', { hasText: name });
      assert.equal(
        await text(mine.locator('p', { hasText: t('account.receives') })),
        `${t('account.receives')}: ${['address', 'mother_name', 'birthdate'].map(label).join(', ')}`,
      );
      await checkPage(w, 'account page');

      // The address edited once for every service: a bad CEP first.
      const nav = page.getByRole('navigation', { name: t('account.nav') });
      await nav.getByRole('link', { name: t('account.section.data'), exact: true }).click();
      await page.waitForURL(`${app.url}/conta/dados`);
      await expectPage(page, locale, t('profile.title'));
      assert.equal(await page.locator('#f_address_postal_code').inputValue(), '80010-000');
      assert.equal(await page.locator('#f_mother_name').inputValue(), MOTHER);
      await checkPage(w, 'my data page');
      await page.getByLabel(t('field.address.postal_code.label'), { exact: true }).fill('800600');
      await page
        .getByLabel(t('field.address.street_address.label'), { exact: true })
        .fill('Avenida Sete de Setembro');
      await page.getByLabel(t('field.address.number.label'), { exact: true }).fill('2775');
      await page.getByRole('button', { name: t('profile.save'), exact: true }).click();
      await expectCepError(page, t);
      await expectPage(page, locale, t('profile.title'));
      assert.equal(await page.locator('#f_address_postal_code').inputValue(), '800600');
      assert.equal(await page.locator('#f_address_street_address').inputValue(), 'Avenida Sete de Setembro');
      assert.equal(await page.locator('#f_address_number').inputValue(), '2775');
      assert.equal(await page.locator('#f_mother_name').inputValue(), MOTHER);
      await checkPage(w, 'my data page with a bad CEP');
      await page.locator('#f_address_postal_code').fill('80060-000');
      await page.getByRole('button', { name: t('profile.save'), exact: true }).click();
      await page.waitForURL(`${app.url}/conta/dados?salvo=1`);
      assert.equal(await text(page.locator('main .notice[role=status]')), t('profile.saved'));
      assert.equal(await page.locator('#f_address_postal_code').inputValue(), '80060-000');
      assert.equal(await page.locator('#f_address_street_address').inputValue(), 'Avenida Sete de Setembro');
      await checkPage(w, 'my data page, saved');
      const info = await client.fetchUserInfo(
        svc.config,
        renewed.access_token,
        String(renewed.claims()!.sub),
      );
      assert.equal(
        (info.address as Record<string, string>).postal_code,
        '80060-000',
        'the service sees the new address',
      );

      // Revoking: the service disappears from the list and its refresh token stops working.
      await nav.getByRole('link', { name: t('account.section.services'), exact: true }).click();
      await page.waitForURL(`${app.url}/conta/servicos`);
      await page.getByRole('button', { name: t('account.revoke', { service: name }), exact: true }).click();
      await expectPage(page, locale, t('account.revoke_confirm_title', { service: name }));
      await page.getByRole('button', { name: t('account.revoke_confirm'), exact: true }).click();
      await page.waitForURL(`${app.url}/conta/servicos?revogado=${svc.clientId}`);
      await expectPage(page, locale, t('account.section.services'));
      assert.equal(await text(page.locator('main .notice[role=status]')), t('account.revoked_named', { service: name }));
      assert.equal(await page.locator('.data-item', { hasText: name }).count(), 0);
      assert.ok((await text(page.locator('main'))).includes(t('account.no_services')));
      await checkPage(w, 'account page after revoking');
      await assert.rejects(
        client.refreshTokenGrant(svc.config, renewed.refresh_token!),
        (e: { error?: string }) => e.error === 'invalid_grant',
      );

      assert.deepEqual(problems, []);
    });
  }
});
