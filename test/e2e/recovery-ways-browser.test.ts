import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createCitizenStore } from '../../src/identity/citizen-store.ts';
import { cpfFromBase } from '../../src/identity/cpf.ts';
import { emailRecovery } from '../../src/methods/email-code/email-recovery.ts';
import { createPasswordHasher } from '../../src/methods/password/password-hasher.ts';
import { smsRecovery } from '../../src/methods/sms-code/sms-recovery.ts';
import { createI18n, LOCALES, type Locale } from '../../src/platform/i18n.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import { browserProfiles, checkPage, expectPage, launchChromium, type Watched } from '../helpers/browser.ts';
import { addService, authorizationRequest, newCitizen, type TestService } from '../helpers/journeys.ts';
import { startTestApp, TEST_SECRET, type TestApp } from '../helpers/test-app.ts';

/*
 * Recovery in a real browser, in each language, from a service's login page back to the service, by
 * the ways other than e-mail (recovery-browser.test.ts): SMS (a loopback gateway stands in for the
 * carrier) and "this was not me"; the secret question; saved recovery codes; and the pages an
 * unknown CPF gets, byte for byte those of a known one less tokens. axe-core on every page.
 */
const i18n = createI18n();
const MOTHER = 'Maria José da Conceição';
const sms: { to: string; text: string }[] = [];
let gateway: Server;
let app: TestApp;
let browser: Browser;
let profiles: ReturnType<typeof browserProfiles>;
let svc: TestService;
let phones = 0;

before(async () => {
  gateway = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const parsed = JSON.parse(body);
      sms.push({ to: parsed.to, text: parsed.text });
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  app = await startTestApp({
    SMS_GATEWAY_URL: `http://127.0.0.1:${(gateway.address() as { port: number }).port}/sms`,
  });
  svc = await addService(app);
  browser = await launchChromium();
  profiles = browserProfiles(browser, app.url);
});
after(async () => {
  await profiles?.close();
  await browser?.close();
  await app?.stop();
  gateway?.close();
});

async function waitForSms(to: string, count: number) {
  // Bounds a hang only; the loop ends as soon as the SMS arrives.
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const mine = sms.filter((r) => r.to === to);
    if (mine.length >= count) return mine[count - 1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no SMS number ${count} to ${to}`);
}

/** A confirmed citizen with a mother's name on record and, when asked, a proven mobile number. */
async function citizen(withPhone = false) {
  const c = newCitizen();
  const citizens = createCitizenStore(app.db.db);
  const phone = withPhone
    ? `+55419${String(80_000_000 + (Date.now() % 1_000_000) * 10 + phones++).slice(-8)}`
    : null;
  const { id } = await citizens.create({
    cpf: c.cpf.replace(/\D/g, ''),
    email: c.email,
    name: c.name,
    socialName: null,
    birthdate: c.birthdate,
    phoneNumber: phone,
    passwordHash: await createPasswordHasher().hash(c.password),
    locale: null,
  });
  await citizens.markEmailVerified(id);
  if (phone) assert.equal(await citizens.markPhoneVerified(id, phone), 'verified');
  await app.db.db
    .updateTable('citizens')
    .set({ profile: JSON.stringify({ mother_name: MOTHER }) })
    .where('id', '=', id)
    .execute();
  return { ...c, id, phone };
}

/** A profile whose requests to the service are answered here; `landed` is where it ended up. */
async function profile(locale: Locale) {
  const w = await profiles.open({ locale });
  const seen = { landed: '' };
  await w.context.route(`${new URL(svc.redirectUri).origin}/**`, (route) => {
    seen.landed = route.request().url();
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'service' });
  });
  return { w, seen };
}

/** From a service's login page, "forgot my password", the identifier, then the way labelled `way`. */
async function recoverFromService(w: Watched, locale: Locale, identifier: string, way: string) {
  const t = i18n.translator(locale);
  const { page } = w;
  await page.goto((await authorizationRequest(svc)).url.href);
  await page.getByRole('link', { name: t('login.forgot') }).click();
  await expectPage(page, locale, t('recovery.title'));
  await page.getByLabel(t('recovery.identifier')).fill(identifier);
  await page.getByRole('button', { name: t('recovery.continue') }).click();
  await expectPage(page, locale, t('recovery.ways_title'));
  await checkPage(w, 'recovery: ways');
  await page.getByLabel(way, { exact: true }).check();
  await page.getByRole('button', { name: t('recovery.send_code') }).click();
}

/** The new password, then consent (a service the citizen never used), then back at the service. */
async function finishAtService(w: Watched, locale: Locale, seen: { landed: string }, password: string) {
  const t = i18n.translator(locale);
  const { page } = w;
  await page.getByLabel(t('recovery.new_password')).fill(password);
  await page.getByRole('button', { name: t('recovery.save_password') }).click();
  await page.locator('button[name="decision"][value="accept"]').click();
  await page.waitForURL((url) => url.href.startsWith(svc.redirectUri));
  assert.ok(
    seen.landed.startsWith(svc.redirectUri) && seen.landed.includes('code='),
    'back at the service with a code',
  );
}

async function signInToAccount(w: Watched, locale: Locale, identifier: string, password: string) {
  const t = i18n.translator(locale);
  const { page } = w;
  await page.goto(`${app.url}/conta`);
  await page.getByLabel(t('login.identifier')).fill(identifier);
  await page.getByLabel(t('login.password'), { exact: true }).fill(password);
  await page.getByRole('button', { name: t('login.submit'), exact: true }).click();
  await page.waitForURL(`${app.url}/conta`);
}

const passwordHash = async (id: string) =>
  (
    await app.db.db
      .selectFrom('credentials')
      .select('secret')
      .where('citizen_id', '=', id)
      .where('type', '=', 'password')
      .executeTakeFirst()
  )?.secret ?? null;

for (const locale of LOCALES) {
  const t = i18n.translator(locale);

  test(`SMS recovery in Chromium (${locale}): back at the service; the notice's "this was not me" link locks the account`, async () => {
    const c = await citizen(true);
    const { w, seen } = await profile(locale);
    const { page } = w;
    await recoverFromService(
      w,
      locale,
      c.cpf,
      t('recovery.way.sms', { address: `+55 41 9••••-${c.phone!.slice(-4)}` }),
    );
    await expectPage(page, locale, t('recovery.code_title'));
    await checkPage(w, 'recovery: SMS code');
    assert.equal(await page.locator('#code').getAttribute('autocomplete'), 'one-time-code');
    const text = (await waitForSms(c.phone!, 1)).text;
    const code = text.match(/\b(\d{6})\b/)![1]!;
    await page.getByLabel(t('recovery.code'), { exact: true }).fill(code);
    await page.getByRole('button', { name: t('recovery.confirm') }).click();
    await expectPage(page, locale, t('recovery.password_title'));
    await finishAtService(w, locale, seen, 'jambo rosa no quintal de maio 4');
    assert.ok(await passwordHash(c.id));

    // The notice by SMS (in the account's language) carries the link; its owner locks the account.
    const notice = await waitForSms(c.phone!, 2);
    const link = notice.text.match(/(http\S+\/recuperar\/nao-fui-eu#t=[\w-]+)/)![1]!;
    const owner = await profiles.open({ locale });
    await owner.page.goto(link);
    await expectPage(owner.page, locale, t('recovery.not_me_title'));
    await owner.page.waitForFunction(
      () => ((document.getElementById('token') as HTMLInputElement | null)?.value.length ?? 0) > 20,
    );
    await checkPage(owner, 'recovery: this was not me');
    await owner.page.getByRole('button', { name: t('recovery.not_me_submit') }).click();
    await expectPage(owner.page, locale, t('recovery.locked_title'));
    await checkPage(owner, 'recovery: account locked');
    assert.equal(await passwordHash(c.id), null, 'the password is unusable until the next recovery');
    assert.deepEqual(
      await app.db.db.selectFrom('oidc_payloads').select('id').where('account_id', '=', c.id).execute(),
      [],
      'every session ended',
    );
    // The browser that reset it is signed out: /conta asks to sign in, and the new password fails.
    await page.goto(`${app.url}/conta`);
    await expectPage(page, locale, t('login.title'));
    await page.getByLabel(t('login.identifier')).fill(c.cpf);
    await page.getByLabel(t('login.password'), { exact: true }).fill('jambo rosa no quintal de maio 4');
    await page.getByRole('button', { name: t('login.submit'), exact: true }).click();
    await page.locator('.errors, .error').first().waitFor();
    assert.ok(!page.url().endsWith('/conta'), 'not signed in');
    assert.deepEqual(w.problems, []);
    assert.deepEqual(owner.problems, []);
  });

  test(`secret question in Chromium (${locale}): set on /conta, answered with other case and accents, back at the service at bronze; the 4th answer that day refused`, async () => {
    const c = await citizen();
    const { w, seen } = await profile(locale);
    const { page } = w;
    await signInToAccount(w, locale, c.cpf, c.password);
    await page.getByRole('link', { name: t('account.recovery_settings') }).click();
    await expectPage(page, locale, t('recovery_settings.title'));
    await checkPage(w, 'account: recovery settings');
    await page.getByLabel(t('recovery_settings.question'), { exact: true }).selectOption('childhood_street');
    await page.getByLabel(t('recovery_settings.answer'), { exact: true }).fill('Rua São João');
    await page.getByRole('button', { name: t('recovery_settings.question_save') }).click();
    await page.waitForURL(/salvo=pergunta/);
    assert.match(
      (await page.locator('#question-status').textContent())!,
      new RegExp(t('secret_question.q.childhood_street').replace(/[?¿]/g, '.')),
    );
    await checkPage(w, 'account: recovery settings, saved');

    const other = await profile(locale);
    await recoverFromService(other.w, locale, c.email, t('recovery.way.secret_question'));
    const q = other.w.page;
    await expectPage(q, locale, t('recovery.question_title'));
    assert.equal(await q.locator('#question').textContent(), t('secret_question.q.childhood_street'));
    await checkPage(other.w, 'recovery: secret question');
    await q.getByLabel(t('recovery.answer'), { exact: true }).fill('  rua sao  JOAO ');
    await q.getByLabel(t('field.birthdate.label'), { exact: true }).fill(c.birthdate);
    await q.getByLabel(t('field.mother_name.label'), { exact: true }).fill('MARIA JOSE DA CONCEICAO');
    await q.getByRole('button', { name: t('recovery.confirm') }).click();
    await expectPage(q, locale, t('recovery.password_title'));
    await checkPage(other.w, 'recovery: new password');
    await finishAtService(other.w, locale, other.seen, 'tamarindo doce na calçada 58');
    const row = await app.db.db
      .selectFrom('citizens')
      .select('trust_level')
      .where('id', '=', c.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.trust_level, 'bronze');
    // /conta says the account stays at bronze until a stronger proof.
    await other.w.page.goto(`${app.url}/conta`);
    await expectPage(other.w.page, locale, t('account.title'));
    assert.ok(await other.w.page.locator('#lowered').isVisible());
    await checkPage(other.w, 'account page, lowered by the secret question');

    // The same day: two wrong answers, then the right one is the 4th answer and is refused.
    const third = await profile(locale);
    await recoverFromService(third.w, locale, c.cpf, t('recovery.way.secret_question'));
    const p = third.w.page;
    for (const tries of [1, 0]) {
      await p.getByLabel(t('recovery.answer'), { exact: true }).fill('rua errada');
      await p.getByLabel(t('field.birthdate.label'), { exact: true }).fill(c.birthdate);
      await p.getByLabel(t('field.mother_name.label'), { exact: true }).fill(MOTHER);
      await p.getByRole('button', { name: t('recovery.confirm') }).click();
      await p
        .getByText(t(tries ? 'recovery.question_wrong' : 'recovery.question_wrong_last', { tries }))
        .waitFor();
    }
    await checkPage(third.w, 'recovery: secret question, wrong answer');
    await p.getByLabel(t('recovery.answer'), { exact: true }).fill('Rua São João');
    await p.getByLabel(t('field.birthdate.label'), { exact: true }).fill(c.birthdate);
    await p.getByLabel(t('field.mother_name.label'), { exact: true }).fill(MOTHER);
    await p.getByRole('button', { name: t('recovery.confirm') }).click();
    await p.getByText(t('recovery.question_limited')).waitFor();
    await expectPage(p, locale, t('recovery.question_title'));
    void seen;
    for (const x of [w, other.w, third.w]) assert.deepEqual(x.problems, []);
  });

  test(`saved recovery codes in Chromium (${locale}): generated and printable on /conta, one used from the service's login page, the count shown, back at the service`, async () => {
    const c = await citizen();
    const { w } = await profile(locale);
    const { page } = w;
    await signInToAccount(w, locale, c.cpf, c.password);
    await page.goto(`${app.url}/conta/recuperacao`);
    await page.getByRole('button', { name: t('recovery_settings.codes_generate') }).click();
    await expectPage(page, locale, t('recovery_settings.new_codes_title'));
    const codes = (await page.locator('.recovery-codes code').allTextContents()).map((s) => s.trim());
    assert.equal(codes.length, 10);
    assert.ok(
      await page.getByRole('button', { name: t('recovery_settings.print') }).isVisible(),
      'the print button, with JavaScript',
    );
    await checkPage(w, 'account: new recovery codes');
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('header.top').isVisible(), false, 'printed: only the codes');
    assert.ok(await page.locator('.recovery-codes').isVisible());
    assert.ok(await page.locator('.print-only').isVisible());
    await page.emulateMedia({ media: 'screen' });

    const other = await profile(locale);
    await recoverFromService(other.w, locale, c.cpf, t('recovery.way.recovery_code'));
    const p = other.w.page;
    await expectPage(p, locale, t('recovery.saved_code_title'));
    await checkPage(other.w, 'recovery: saved code');
    await p.getByLabel(t('recovery.saved_code'), { exact: true }).fill(codes[7]!.toLowerCase());
    await p.getByRole('button', { name: t('recovery.confirm') }).click();
    await expectPage(p, locale, t('recovery.password_title'));
    assert.match(
      (await p.locator('.notice').textContent())!,
      new RegExp(t('recovery.saved_code_left', { left: 9 }).replace(/[.()]/g, '\\$&')),
    );
    await checkPage(other.w, 'recovery: new password after a saved code');
    await finishAtService(other.w, locale, other.seen, 'pequi cheiroso do cerrado 21');

    // The code is spent; /conta counts what is left.
    await page.goto(`${app.url}/conta/recuperacao`);
    const again = await profile(locale);
    await recoverFromService(again.w, locale, c.cpf, t('recovery.way.recovery_code'));
    await again.w.page.getByLabel(t('recovery.saved_code'), { exact: true }).fill(codes[7]!);
    await again.w.page.getByRole('button', { name: t('recovery.confirm') }).click();
    await again.w.page.getByText(t('recovery.saved_code_wrong')).waitFor();
    await checkPage(again.w, 'recovery: saved code refused');
    for (const x of [w, other.w, again.w]) assert.deepEqual(x.problems, []);
  });

  test(`unknown CPF in Chromium (${locale}): every recovery page the same HTML as a known account's, byte for byte less tokens`, async () => {
    const known = await citizen();
    // Nobody's CPF whose stand-in ways look like the known account's (one e-mail, no phone), found
    // from the stand-ins themselves (each start counts against the address's daily recovery limit).
    const secrets = createSecrets(TEST_SECRET);
    const lookAlike = (cpf: string) => {
      const seed = Buffer.from(secrets.digest('recovery-stand-in', cpf.replace(/\D/g, '')), 'base64url');
      return emailRecovery.standIns(seed, {}).length === 1 && smsRecovery.standIns(seed, {}).length === 0;
    };
    let unknown = '';
    for (let i = 0; i < 200 && !unknown; i++) {
      const cpf = cpfFromBase(String(870_000_000 + i * 7919 + LOCALES.indexOf(locale) * 13).slice(-9));
      if (lookAlike(cpf)) unknown = cpf;
    }
    assert.ok(unknown, 'some unknown CPF shows one e-mail and no phone');
    const walk = async (cpf: string) => {
      const w = await profiles.open({ locale });
      // Every page shown (redirects have no page), in order, as the server sent it.
      const bodies: Promise<string>[] = [];
      w.page.on('response', (r) => {
        const shown = r.status() < 300 || r.status() >= 400;
        if (r.request().isNavigationRequest() && r.frame() === w.page.mainFrame() && shown)
          bodies.push(r.text());
      });
      const { page } = w;
      await page.goto(`${app.url}/recuperar`);
      await page.getByLabel(t('recovery.identifier')).fill(cpf);
      await page.getByRole('button', { name: t('recovery.continue') }).click();
      await expectPage(page, locale, t('recovery.ways_title'));
      const ways: [string, () => Promise<void>][] = [
        [
          t('recovery.way.secret_question'),
          async () => {
            await page.getByLabel(t('recovery.answer'), { exact: true }).fill('errada');
            await page.getByLabel(t('field.birthdate.label'), { exact: true }).fill('2001-02-03');
            await page.getByLabel(t('field.mother_name.label'), { exact: true }).fill('Ninguém');
          },
        ],
        [
          t('recovery.way.recovery_code'),
          () => page.getByLabel(t('recovery.saved_code'), { exact: true }).fill('AAAA-BBBB-CCCC-DDDD'),
        ],
      ];
      for (const [label, fill] of ways) {
        await page.getByLabel(label, { exact: true }).check();
        await page.getByRole('button', { name: t('recovery.send_code') }).click();
        await page.locator('main form').first().waitFor();
        await checkPage(w, `recovery: ${label}`);
        await fill();
        await page.getByRole('button', { name: t('recovery.confirm') }).click();
        await page.locator('.errors').waitFor();
        await page.getByRole('link', { name: t('recovery.other_way') }).click();
        await expectPage(page, locale, t('recovery.ways_title'));
      }
      // The code way last (the first option): the code page, a wrong code.
      await page.locator('input[name="way"]').first().check();
      await page.getByRole('button', { name: t('recovery.send_code') }).click();
      await expectPage(page, locale, t('recovery.code_title'));
      await page.getByLabel(t('recovery.code'), { exact: true }).fill('000001');
      await page.getByRole('button', { name: t('recovery.confirm') }).click();
      await page.locator('.error').waitFor();
      assert.deepEqual(w.problems, []);
      const pages = await Promise.all(bodies);
      await w.context.close();
      return pages.map((b) =>
        b
          .replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf" value="TOKEN"')
          .replace(/(\+55 \d\d )?[^\s>"]*•+[^\s<"]*/g, 'ADDRESS')
          .replace(/id="question"><strong>[^<]+</g, 'id="question"><strong>QUESTION<'),
      );
    };
    const mine = await walk(known.cpf);
    const nobody = await walk(unknown);
    assert.equal(mine.length, 10, 'identifier, ways, each way’s page and its wrong answer, the ways again');
    assert.deepEqual(nobody, mine);
  });
}
