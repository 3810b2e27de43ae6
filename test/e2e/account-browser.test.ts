import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { ACCOUNT_SECTIONS } from '../../src/account/account-sections.ts';
import { ACCOUNT_PURGED } from '../../src/events/set-format.ts';
import { createI18n, type Locale, type Translate } from '../../src/platform/i18n.ts';
import {
  browserProfiles,
  checkPage,
  expectPage,
  launchChromium,
  type OpenOptions,
  type Watched,
} from '../helpers/browser.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, authorizationRequest, exchange, type TestService } from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/*
 * The citizen's experience of consent and of their account in a real browser, in each language and
 * on a phone (issue 16): optional fields unticked, "Não é você?" on a shared computer, an optional
 * field given on the spot, the account's sections, the grouped data page, revoking asked again,
 * the history, the export, and the deletion (a wrong password, the grace period, undoing it, and
 * the service told on its event queue once it runs). axe-core on every page shown.
 */

const i18n = createI18n();
const SERVICE_ORIGIN = 'http://127.0.0.1:9';

// One journey at a time: each is long, and each gets the whole per-test time on a busy machine.
describe('consent and the account area in a real browser', () => {
  let app: TestApp;
  let browser: Browser;
  let profiles: ReturnType<typeof browserProfiles>;

  before(async () => {
    app = await startTestApp();
    browser = await launchChromium();
    profiles = browserProfiles(browser, app.url);
  });

  after(async () => {
    await profiles?.close();
    await browser?.close().catch(() => {});
    await app?.stop();
  });

  async function serveCallback(w: Watched) {
    await w.context.route(`${SERVICE_ORIGIN}/**`, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/html; charset=utf-8',
        body: '<!doctype html><html lang="pt-BR"><title>Serviço</title><main><h1>Serviço</h1></main></html>',
      }),
    );
  }

  async function text(page: Page, selector: string): Promise<string> {
    return ((await page.locator(selector).first().textContent()) ?? '').replace(/\s+/g, ' ').trim();
  }

  async function signIn(page: Page, t: Translate, identifier: string, password: string) {
    await page.getByLabel(t('login.identifier'), { exact: true }).fill(identifier);
    await page.getByLabel(t('login.password'), { exact: true }).fill(password);
    await page.getByRole('button', { name: t('login.submit'), exact: true }).click();
  }

  /** The SETs waiting for the service on its poll queue, acknowledged: subject and event types. */
  async function queued(svc: TestService) {
    await app.events.relay.runOnce();
    const auth = `Basic ${Buffer.from(`${encodeURIComponent(svc.clientId)}:${encodeURIComponent(svc.clientSecret)}`).toString('base64')}`;
    const poll = async (body: Record<string, unknown>) =>
      (await (
        await fetch(`${app.url}/api/v1/events`, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ returnImmediately: true, ...body }),
        })
      ).json()) as { sets: Record<string, string> };
    const { sets } = await poll({ maxEvents: 1000 });
    if (Object.keys(sets).length) await poll({ ack: Object.keys(sets), maxEvents: 0 });
    return Object.values(sets).map((jwt) => {
      const c = decodeJwt(jwt) as { sub_id?: { sub?: string }; events: Record<string, unknown> };
      return { sub: c.sub_id?.sub, types: Object.keys(c.events) };
    });
  }

  const journeys: { locale: Locale; options: OpenOptions }[] = [
    { locale: 'pt-BR', options: { locale: 'pt-BR' } },
    { locale: 'en', options: { locale: 'en-US', phone: true } },
    { locale: 'es', options: { locale: 'es-ES' } },
  ];

  for (const { locale, options } of journeys) {
    test(`${locale}${options.phone ? ', on a phone' : ''}: consent opt-in, "not you", the account's sections, export and deletion`, async () => {
      const t = i18n.translator(locale);
      const label = (key: string) => t(`field.${key}.label`);
      const name = `Biblioteca municipal (${locale})`;
      const svc = await addService(app, {
        name,
        redirectUris: [`${SERVICE_ORIGIN}/cb/account-${locale}`],
        fields: [
          { key: 'name', required: true, purpose: 'para o cartão da biblioteca' },
          { key: 'cpf', required: true, purpose: 'para o cadastro' },
          { key: 'birthdate', required: false, purpose: 'para a seção infantil' },
          { key: 'gender', required: false, purpose: 'para estatísticas' },
        ],
      });
      // Two people at one computer: the first one signed in and walked away.
      const first = await seedCitizen(app.db.db, { name: 'Primeira Pessoa da Silva', locale });
      const second = await seedCitizen(app.db.db, { name: 'Segunda Pessoa Souza', locale });
      const w = await profiles.open(options);
      const { page, problems } = w;
      await serveCallback(w);

      const auth = await authorizationRequest(svc);
      await page.goto(auth.url.href);
      await expectPage(page, locale, t('login.title'));
      await signIn(page, t, first.cpf, first.password);
      const accept = page.getByRole('button', { name: t('consent.accept'), exact: true });
      await accept.waitFor();
      await expectPage(page, locale, t('consent.title', { service: name }));
      assert.equal(await text(page, '.signed-in-as p'), t('consent.signed_in_as', { name: first.name }));
      const shareBirthdate = page.getByLabel(t('consent.share', { field: label('birthdate') }), {
        exact: true,
      });
      assert.equal(await shareBirthdate.isChecked(), false, 'an optional field starts unticked');
      await checkPage(w, 'consent page');

      // "Não é você?": the first person's session ends and the service's request starts again.
      await page.getByRole('button', { name: t('consent.not_you'), exact: true }).click();
      await page.getByLabel(t('login.password'), { exact: true }).waitFor();
      await expectPage(page, locale, t('login.title'));
      await checkPage(w, 'login page after "not you"');
      await signIn(page, t, second.cpf, second.password);
      await accept.waitFor();
      assert.equal(await text(page, '.signed-in-as p'), t('consent.signed_in_as', { name: second.name }));
      assert.equal(await shareBirthdate.isChecked(), false);

      // A field never given, given on the spot: shared because the citizen filled it in.
      await page
        .getByText(t('consent.add_optional_open', { field: label('gender') }), { exact: true })
        .click();
      await page.getByLabel(label('gender')).selectOption('not_said');
      await checkPage(w, 'consent page with an optional field opened');
      await accept.click();
      await page.waitForURL((url) => url.href.startsWith(svc.redirectUri));
      const tokens = await exchange(svc, auth, page.url());
      const claims = tokens.claims()!;
      assert.equal(claims.name, second.name);
      assert.equal(claims.gender, 'not_said');
      assert.equal(claims.birthdate, undefined, 'the unticked field is not released');
      const firstRow = await app.db.db
        .selectFrom('consent_current')
        .select('client_id')
        .where('citizen_id', '=', first.id)
        .executeTakeFirst();
      assert.equal(firstRow, undefined, 'the first person consented to nothing');
      await queued(svc);

      // The account's hub: its sections, each with a sentence.
      await page.goto(`${app.url}/conta`);
      await expectPage(page, locale, t('account.title'));
      assert.deepEqual(
        (await page.locator('.section-cards h2').allTextContents()).map((s) => s.trim()),
        ACCOUNT_SECTIONS.map((s) => t(s.title)),
      );
      await checkPage(w, 'account hub');

      // Personal data in groups, the CPF partly masked.
      await page
        .locator('.section-cards')
        .getByRole('link', { name: t('account.section.data'), exact: true })
        .click();
      await expectPage(page, locale, t('profile.title'));
      assert.deepEqual(
        (await page.locator('fieldset.profile-group > legend').allTextContents()).map((s) => s.trim()),
        ['identity', 'contact', 'address', 'preferences'].map((g) => t(`profile.group.${g}`)),
      );
      const cpf = second.cpf.replace(/\D/g, '');
      assert.equal(
        await text(page, '.profile-group .readonly-value'),
        t('profile.cpf_shown', { cpf: `***.${cpf.slice(3, 6)}.${cpf.slice(6, 9)}-**` }),
      );
      await checkPage(w, 'personal data page');

      // Revoking is asked again, and "keep" keeps it.
      await page
        .getByRole('navigation', { name: t('account.nav') })
        .getByRole('link', { name: t('account.section.services'), exact: true })
        .click();
      await expectPage(page, locale, t('account.section.services'));
      await checkPage(w, 'services page');
      await page.getByRole('button', { name: t('account.revoke', { service: name }), exact: true }).click();
      await expectPage(page, locale, t('account.revoke_confirm_title', { service: name }));
      await checkPage(w, 'revoke confirmation');
      await page.getByRole('link', { name: t('account.revoke_keep'), exact: true }).click();
      await expectPage(page, locale, t('account.section.services'));
      assert.equal(await page.locator('.data-item', { hasText: name }).count(), 1, 'still there');

      // Privacy: the history, the export.
      await page
        .getByRole('navigation', { name: t('account.nav') })
        .getByRole('link', { name: t('account.section.privacy'), exact: true })
        .click();
      await expectPage(page, locale, t('account.section.privacy'));
      await checkPage(w, 'privacy page');
      await page.getByRole('link', { name: t('privacy.history_open'), exact: true }).click();
      await expectPage(page, locale, t('privacy.history_title'));
      // The consent with its terms version, and the gender given on the consent screen sent to the
      // service as a change (the data sharing itself).
      const rows = (await page.locator('tbody tr', { hasText: name }).allTextContents()).map((r) =>
        r.replace(/\s+/g, ' '),
      );
      assert.equal(rows.length, 2, rows.join('\n'));
      assert.ok(
        rows.some(
          (r) =>
            r.includes(
              t('privacy.event_granted', { fields: ['name', 'cpf', 'gender'].map(label).join(', ') }),
            ) && r.includes(t('privacy.terms_version', { version: 1 })),
        ),
        rows.join('\n'),
      );
      assert.ok(
        rows.some((r) => r.includes(t('privacy.event_shared', { fields: label('gender') }))),
        rows.join('\n'),
      );
      await checkPage(w, 'history page');
      await page.goto(`${app.url}/conta/privacidade/meus-dados`);
      await expectPage(page, locale, t('privacy.export_page_title'));
      assert.ok(((await page.locator('#export-citizens + dl').textContent()) ?? '').includes(second.name));
      await checkPage(w, 'export page');
      const download = page.waitForEvent('download');
      await page.getByRole('link', { name: t('privacy.export_json'), exact: true }).click();
      const json = JSON.parse(
        await (await (await download).createReadStream())
          .toArray()
          .then((chunks) => Buffer.concat(chunks).toString('utf8')),
      );
      assert.equal(json.data.citizens[0].name, second.name);

      // Deletion: a wrong password first, then the right one; undone; asked again; the purge.
      await page.goto(`${app.url}/conta/privacidade`);
      await page.getByRole('link', { name: t('privacy.delete_open'), exact: true }).click();
      await expectPage(page, locale, t('privacy.delete_title'));
      await checkPage(w, 'deletion page');
      const password = page.getByLabel(t('privacy.delete_password'), { exact: true });
      await password.fill('this is not it at all');
      await page.getByRole('button', { name: t('privacy.delete_confirm'), exact: true }).click();
      await page.locator('.errors[role=alert]').waitFor();
      assert.equal(await text(page, '#password-error'), t('privacy.delete_password_wrong'));
      await checkPage(w, 'deletion page with a wrong password');
      await password.fill(second.password);
      await page.getByRole('button', { name: t('privacy.delete_confirm'), exact: true }).click();
      await page.getByRole('button', { name: t('privacy.delete_cancel'), exact: true }).waitFor();
      await expectPage(page, locale, t('account.section.privacy'));
      await checkPage(w, 'privacy page with the deletion pending');
      await page.getByRole('button', { name: t('privacy.delete_cancel'), exact: true }).click();
      await page.waitForURL(/exclusao=cancelada/);
      assert.equal(await text(page, 'main .notice[role=status]'), t('privacy.delete_cancelled'));
      await checkPage(w, 'hub after cancelling');
      assert.equal(await app.purgeDueDeletions(), 0);
      assert.equal(
        (
          await app.db.db
            .selectFrom('citizens')
            .select('status')
            .where('id', '=', second.id)
            .executeTakeFirstOrThrow()
        ).status,
        'active',
      );

      await page.goto(`${app.url}/conta/privacidade/excluir`);
      await password.fill(second.password);
      await page.getByRole('button', { name: t('privacy.delete_confirm'), exact: true }).click();
      await page.getByRole('button', { name: t('privacy.delete_cancel'), exact: true }).waitFor();
      // The grace period over (the database's clock), the next purge run takes the account.
      await app.db.db
        .updateTable('account_deletions')
        .set({ due_at: new Date(Date.now() - 1000) })
        .where('citizen_id', '=', second.id)
        .execute();
      assert.equal(await app.purgeDueDeletions(), 1);
      const events = await queued(svc);
      assert.deepEqual(
        events.filter((e) => e.types.includes(ACCOUNT_PURGED)).map((e) => e.sub),
        [second.id],
        'the service is told on its queue',
      );
      await page.goto(`${app.url}/conta`);
      await expectPage(page, locale, t('login.title'));

      assert.deepEqual(problems, []);
    });
  }
});
