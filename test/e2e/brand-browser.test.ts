import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createI18n, type Locale } from '../../src/platform/i18n.ts';
import {
  browserProfiles,
  checkPage,
  expectPage,
  launchChromium,
  type OpenOptions,
} from '../helpers/browser.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/*
 * A deployment's own look in a real browser: its colours, logo and footer links on the pages a
 * citizen meets first, axe-core clean in each language on a desktop and a phone.
 */
const i18n = createI18n();

describe("a city's own colours and logo in a real browser", () => {
  let app: TestApp;
  let browser: Browser;
  let profiles: ReturnType<typeof browserProfiles>;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cidadela-marca-'));
    writeFileSync(
      join(dir, 'brasao.svg'),
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><circle cx="20" cy="20" r="18" fill="#00592e"/></svg>',
    );
    app = await startTestApp({
      BRAND_NAME: 'Conta Cidade Verde',
      BRAND_DIR: dir,
      BRAND_LOGO: 'brasao.svg',
      BRAND_PRIMARY: '#00592e',
      BRAND_PRIMARY_DARK: '#3b0a45',
      BRAND_FOOTER_LINKS: 'Prefeitura|https://cidade.example/;Privacidade|https://cidade.example/privacidade',
    });
    browser = await launchChromium();
    profiles = browserProfiles(browser, app.url);
  });
  after(async () => {
    await profiles?.close();
    await browser?.close().catch(() => {});
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const runs: { locale: Locale; options: OpenOptions }[] = [
    { locale: 'pt-BR', options: { locale: 'pt-BR' } },
    { locale: 'en', options: { locale: 'en-GB', phone: true } },
    { locale: 'es', options: { locale: 'es-ES' } },
  ];
  for (const { locale, options } of runs) {
    test(`${locale}${options.phone ? ' on a phone' : ''}: home, login, not found`, async () => {
      const w = await profiles.open(options);
      const t = i18n.translator(locale);
      const { page } = w;
      await page.goto(`${app.url}/`);
      await expectPage(page, locale, 'Conta Cidade Verde');
      assert.equal(await page.title(), 'Conta Cidade Verde');
      const colour = await page
        .locator('.actions .button')
        .first()
        .evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.equal(colour, 'rgb(0, 89, 46)', "the deployment's colour is applied");
      assert.equal(await page.locator('header img[src="/marca/brasao.svg"]').count(), 1);
      await checkPage(w, 'home page with a city brand');
      await page.locator('.actions .button.secondary').click();
      await page.waitForURL(/\/demo$/);
      await page.goto(`${app.url}/demo/demo-servico`);
      await page.locator('#login').click();
      await page.waitForURL(/\/interaction\/[^/]+$/);
      await expectPage(page, locale, t('login.title'));
      await checkPage(w, 'login page with a city brand');
      await page.goto(`${app.url}/nao-existe`);
      await expectPage(page, locale, t('error.not_found_title'));
      await checkPage(w, 'not found page with a city brand');
      assert.deepEqual(w.problems, []);
    });
  }
});
