import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createI18n, LOCALES } from '../../src/platform/i18n.ts';
import { browserProfiles, checkPage, expectPage, launchChromium } from '../helpers/browser.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, authorizationRequest, type TestService } from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/*
 * Recovery by e-mail in a real browser, in each language, from a service's login page back to the
 * service: the mail's link fills the code by its fragment (the page's script), axe-core runs on
 * every recovery page.
 */
const i18n = createI18n();
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
let browser: Browser;
let profiles: ReturnType<typeof browserProfiles>;
let svc: TestService;

before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
  svc = await addService(app);
  browser = await launchChromium();
  profiles = browserProfiles(browser, app.url);
});
after(async () => {
  await profiles?.close();
  await browser?.close();
  await app?.stop();
  await smtp?.close();
});

for (const locale of LOCALES) {
  test(`recovery by e-mail in Chromium (${locale}): from the login page, by the mail's link, back at the service`, async () => {
    const t = i18n.translator(locale);
    const citizen = await seedCitizen(app.db.db);
    const w = await profiles.open({ locale });
    const { page } = w;
    let landed = '';
    await w.context.route(`${new URL(svc.redirectUri).origin}/**`, (route) => {
      landed = route.request().url();
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'service' });
    });
    await page.goto((await authorizationRequest(svc)).url.href);
    await page.getByRole('link', { name: t('login.forgot') }).click();
    await expectPage(page, locale, t('recovery.title'));
    await checkPage(w, 'recovery: identifier');
    await page.getByLabel(t('recovery.identifier')).fill(citizen.cpf);
    await page.getByRole('button', { name: t('recovery.continue') }).click();
    await expectPage(page, locale, t('recovery.ways_title'));
    await checkPage(w, 'recovery: ways');
    await page.getByRole('button', { name: t('recovery.send_code') }).click();
    await expectPage(page, locale, t('recovery.code_title'));
    await checkPage(w, 'recovery: code');
    const mail = await smtp.waitFor(citizen.email, 15_000, (m) =>
      m.text.includes('/recuperar/codigo#codigo='),
    );
    const link = mail.text.match(/(http\S+\/recuperar\/codigo#codigo=\d{6})/)![1]!;
    await page.goto(link);
    const code = link.slice(-6);
    await page.waitForFunction(
      () => (document.getElementById('code') as HTMLInputElement | null)?.value.length === 6,
    );
    assert.equal(
      await page.getByLabel(t('recovery.code'), { exact: true }).inputValue(),
      code,
      'the link filled the code',
    );
    assert.equal(new URL(page.url()).hash, '', 'the code left the address bar');
    await page.getByRole('button', { name: t('recovery.confirm') }).click();
    await expectPage(page, locale, t('recovery.password_title'));
    await checkPage(w, 'recovery: new password');
    await page.getByLabel(t('recovery.new_password')).fill('goiaba branca na feira 81');
    await page.getByRole('button', { name: t('recovery.save_password') }).click();
    // A service the citizen never used asks consent first; then the browser goes back to it.
    await page.locator('button[name="decision"][value="accept"]').click();
    await page.waitForURL((url) => url.href.startsWith(svc.redirectUri));
    assert.ok(
      landed.startsWith(svc.redirectUri) && landed.includes('code='),
      'back at the service with a code',
    );
    assert.deepEqual(w.problems, []);
  });
}
