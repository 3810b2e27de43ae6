import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createI18n, LOCALES } from '../../src/platform/i18n.ts';
import { browserProfiles, checkPage, expectPage, launchChromium } from '../helpers/browser.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/*
 * The security section of /conta in real Chromium, in each language: two browsers signed in, one
 * ends the other's session and the demo service (a real relying party) hears of it by back-channel
 * logout; a wrong current password; the recent activity; an alternate e-mail proven by the code
 * from the real SMTP peer. axe-core on every page of the section (one profile on a phone screen).
 */
const i18n = createI18n();
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
  await browser?.close();
  await app?.stop();
  await smtp?.close();
});

for (const locale of LOCALES) {
  test(`security pages in Chromium (${locale}): a session ended from another browser, its service told; password, activity, contacts`, async () => {
    const t = i18n.translator(locale);
    const citizen = await seedCitizen(app.db.db);
    const signIn = async (page: import('playwright-core').Page) => {
      await page.getByLabel(t('login.identifier'), { exact: true }).fill(citizen.cpf);
      await page.getByLabel(t('login.password'), { exact: true }).fill(citizen.password);
      await page.getByRole('button', { name: t('login.submit'), exact: true }).click();
    };

    // Browser A at the demo service.
    const a = await profiles.open({ locale });
    await a.page.goto(`${app.url}/demo/demo-servico`);
    await a.page.locator('#login').click();
    await signIn(a.page);
    await a.page.locator('button[name="decision"][value="accept"]').click();
    await a.page.waitForURL(`${app.url}/demo/demo-servico`);
    await a.page.locator('#logout').waitFor();

    // Browser B, on a phone, in the account pages.
    const b = await profiles.open({ locale, phone: true });
    await b.page.goto(`${app.url}/conta`);
    await signIn(b.page);
    await b.page.getByRole('link', { name: t('security.title'), exact: true }).click();
    await expectPage(b.page, locale, t('security.title'));
    await checkPage(b, 'security: index');
    await b.page.getByRole('link', { name: t('security.sessions_title'), exact: true }).click();
    await expectPage(b.page, locale, t('security.sessions_title'));
    await checkPage(b, 'security: sessions');
    assert.equal(await b.page.locator('.data-item').count(), 2, 'two browsers signed in');
    assert.equal(await b.page.getByText(t('security.this_browser'), { exact: true }).count(), 1);
    await b.page.locator('form[action="/conta/seguranca/sessoes/encerrar"] button').click();
    await b.page.getByText(t('security.sessions_ended'), { exact: true }).waitFor();
    assert.equal(await b.page.locator('.data-item').count(), 1);
    await checkPage(b, 'security: sessions after ending one');

    // A's service was told by back-channel logout: its page now offers to sign in again.
    const deadline = Date.now() + 30_000;
    do {
      await a.page.goto(`${app.url}/demo/demo-servico`);
    } while ((await a.page.locator('#login').count()) === 0 && Date.now() < deadline);
    assert.equal(await a.page.locator('#login').count(), 1, 'the demo service signed A out');

    // A wrong current password: a clear message, nothing changed.
    await b.page.goto(`${app.url}/conta/seguranca/senha`);
    await expectPage(b.page, locale, t('security.password_title'));
    await checkPage(b, 'security: password');
    await b.page.getByLabel(t('security.current_password'), { exact: true }).fill('not the password at all');
    await b.page.getByLabel(t('security.new_password'), { exact: true }).fill('carambola roxa no telhado 5');
    await b.page.getByRole('button', { name: t('security.password_submit'), exact: true }).click();
    await b.page.getByText(t('security.current_wrong'), { exact: true }).first().waitFor();
    await checkPage(b, 'security: password refused');

    // The record: A's sign-in at the demo service, B's at the account.
    await b.page.goto(`${app.url}/conta/seguranca/atividade`);
    await expectPage(b.page, locale, t('security.activity_title'));
    await checkPage(b, 'security: activity');
    assert.ok((await b.page.locator('.data-item').count()) >= 2);
    assert.ok((await b.page.getByText('Demo', { exact: false }).count()) >= 1, 'the demo service is named');

    // An alternate e-mail, proven by the code the SMTP peer receives.
    const alternate = `alt.${locale.toLowerCase()}.${citizen.id.slice(0, 6)}@example.test`.toLowerCase();
    await b.page.goto(`${app.url}/conta/seguranca/contatos`);
    await expectPage(b.page, locale, t('security.channels_title'));
    await checkPage(b, 'security: contacts');
    await b.page.getByLabel(t('security.alternate_email'), { exact: true }).fill(alternate);
    await b.page.getByRole('button', { name: t('profile.send_code'), exact: true }).click();
    await expectPage(b.page, locale, t('security.alternate_confirm_title'));
    await checkPage(b, 'security: alternate e-mail code');
    const mail = await smtp.waitFor(alternate, 30_000);
    await b.page.getByLabel(t('email_code.code'), { exact: true }).fill(codeFrom(mail));
    await b.page.getByRole('button', { name: t('email_code.submit'), exact: true }).click();
    await b.page.getByText(t('security.alternate_added'), { exact: true }).waitFor();
    await checkPage(b, 'security: contacts with an alternate');

    assert.deepEqual([...a.problems, ...b.problems], []);
  });
}
