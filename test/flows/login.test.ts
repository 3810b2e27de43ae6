import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { sql } from 'kysely';
import { formatCpf } from '../../src/identity/cpf.ts';
import { escapeHtml } from '../../src/web/html.ts';
import { type Locale, loadMessages } from '../../src/platform/i18n.ts';
import { MAX_SENDS, MAX_TRIES } from '../../src/methods/email-code/email-code.ts';
import { ADDRESS_FREE_FAILURES } from '../../src/methods/password/login-throttle.ts';
import { ARGON2_PARAMS } from '../../src/methods/password/password-hasher.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  newCitizen,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { passwordHashOf, setPasswordHashOf } from '../helpers/citizens.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, TEST_SECRET, type TestApp } from '../helpers/test-app.ts';
import { formAction, type Page } from '../helpers/user-agent.ts';

const messages = loadMessages();
const LANGS: Record<Locale, string> = { 'pt-BR': 'pt-BR,pt;q=0.9', en: 'en-US,en;q=0.9', es: 'es-ES,es;q=0.9' };

function messageText(locale: Locale, key: string, params: Record<string, string | number> = {}): string {
  const template = messages[locale][key];
  assert.ok(template, `no ${locale} message for ${key}`);
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

function assertMessage(page: Page, locale: Locale, key: string, params: Record<string, string | number> = {}) {
  assert.match(page.html, new RegExp(`<html lang="${locale}">`), `page language: expected ${locale}`);
  const text = messageText(locale, key, params);
  assert.ok(page.html.includes(escapeHtml(text)), `expected the ${locale} message for ${key} ("${text}") on ${page.url} (${page.status}):\n${page.html.slice(0, 3000)}`);
}

/** The time a locked person is told to come back at, as the page formats it. */
function shownTime(date: Date, locale: Locale): string {
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'America/Sao_Paulo' }).format(date);
}

/** The page without what differs between any two renderings: CSRF token, interaction uid, typed identifier. */
function comparable(page: Page): string {
  return page.html
    .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value=""')
    .replace(/\/interaction\/[A-Za-z0-9_-]+/g, '/interaction/UID')
    .replace(/(<input id="identifier" name="identifier" type="text" value=")[^"]*"/, '$1"');
}

let ipCounter = 0;
/** Each browser comes from its own address (the app trusts X-Forwarded-For here), so address limits stay apart. */
function freshAddress(): string {
  ipCounter++;
  return `10.20.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}`;
}

describe('login: identifiers, no account enumeration, throttling, e-mail code, rehash', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let svc: TestService;
  const secrets = createSecrets(TEST_SECRET);

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url, TRUST_PROXY: 'true' });
    svc = await addService(app);
  });

  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  /** A confirmed citizen who has already accepted the service's terms (later logins go straight back). */
  async function confirmedCitizen(overrides: Record<string, string> = {}) {
    const ua = new UserAgent({ 'x-forwarded-for': freshAddress() });
    const { page, citizen } = await registerThroughService(ua, svc, await authorizationRequest(svc), smtp, newCitizen(overrides));
    const back = await answerConsent(ua, page, svc);
    assert.ok(back.url.startsWith(svc.redirectUri));
    return citizen;
  }

  /** A browser at the login page of a new authorization request. */
  async function atLogin(options: { ip?: string; locale?: Locale } = {}) {
    const ua = new UserAgent({
      'x-forwarded-for': options.ip ?? freshAddress(),
      ...(options.locale ? { 'accept-language': LANGS[options.locale] } : {}),
    });
    const auth = await authorizationRequest(svc);
    const page = await ua.get(auth.url.href, svc.redirectUri);
    assert.equal(page.status, 200);
    assert.match(page.html, /name="password"/);
    return { ua, auth, page };
  }

  /** Posts the login form of the browser's current login page. */
  function submit(ua: UserAgent, identifier: string, password: string): Promise<Page> {
    return ua.post(formAction(ua.last!, '/login'), { identifier, password }, svc.redirectUri);
  }

  /**
   * Posts the login form and, if the password was accepted, goes on through the service's consent
   * page, should one be shown, back to the service.
   */
  async function signIn(ua: UserAgent, identifier: string, password: string): Promise<Page> {
    const page = await submit(ua, identifier, password);
    return page.status === 200 && page.html.includes('name="decision"') ? answerConsent(ua, page, svc) : page;
  }

  /** Time passes until every lock is over (the clock, not the counters, moves). */
  async function locksExpire() {
    await app.db.db
      .updateTable('login_throttle')
      .set({ locked_until: sql<Date>`now() - interval '1 second'` })
      .where('locked_until', '>', sql<Date>`now()`)
      .execute();
  }

  /** The throttle row of an account (login-flow.ts: one count per account, whichever identifier is typed). */
  async function accountKey(identifier: string): Promise<string> {
    const row = await app.db.db
      .selectFrom('citizens')
      .select('id')
      .where((eb) => eb.or([eb('cpf', '=', identifier), eb(sql`lower(email)`, '=', identifier.toLowerCase())]))
      .executeTakeFirst();
    return row ? `citizen:${row.id}` : `id:${secrets.digest('login-id', identifier.toLowerCase())}`;
  }

  async function lockedUntil(keys: string[]): Promise<Date> {
    const rows = await app.db.db.selectFrom('login_throttle').select('locked_until').where('key', 'in', keys).execute();
    const times = rows.map((r) => (r.locked_until ? new Date(r.locked_until).getTime() : 0));
    return new Date(Math.max(0, ...times));
  }

  function retryAfter(page: Page): number {
    const value = page.headers.get('retry-after');
    assert.ok(value, `a Retry-After header (status ${page.status})`);
    assert.match(value, /^\d+$/);
    return Number(value);
  }

  describe('identifiers', () => {
    let citizen: ReturnType<typeof newCitizen>;
    before(async () => {
      citizen = await confirmedCitizen();
    });

    for (const [label, identifier] of [
      ['CPF, digits only', () => citizen.cpf],
      ['CPF, formatted', () => formatCpf(citizen.cpf)],
      ['CPF, with spaces around', () => `  ${formatCpf(citizen.cpf)} `],
      ['e-mail, as registered', () => citizen.email],
      ['e-mail, upper case', () => citizen.email.toUpperCase()],
      ['e-mail, mixed case', () => citizen.email.replace(/^./, (c) => c.toUpperCase()).replace('example', 'ExAmPlE')],
    ] as const) {
      test(`signs in by ${label}`, async () => {
        const { ua, auth } = await atLogin();
        const back = await signIn(ua, identifier(), citizen.password);
        assert.equal(back.status, 303, `back to the service: ${back.html.slice(0, 500)}`);
        assert.ok(back.url.startsWith(svc.redirectUri));
        const tokens = await exchange(svc, auth, back.url);
        const info = tokens.claims()!;
        assert.ok(info.sub);
        const row = await app.db.db.selectFrom('citizens').select('id').where('cpf', '=', citizen.cpf).executeTakeFirstOrThrow();
        assert.equal(info.sub, row.id);
      });
    }
  });

  describe('no account enumeration', () => {

    for (const locale of ['pt-BR', 'en'] as const) {
      for (const kind of ['CPF', 'e-mail'] as const) {
        test(`a wrong password and an unknown ${kind} get the same answer (${locale})`, async () => {
          const citizen = await confirmedCitizen();
          const known = kind === 'CPF' ? citizen.cpf : citizen.email;
          const unknown = kind === 'CPF' ? newCitizen().cpf : newCitizen().email;
          const a = await atLogin({ locale });
          const wrong = await submit(a.ua, known, 'not the password at all 1');
          const b = await atLogin({ locale });
          const nobody = await submit(b.ua, unknown, 'not the password at all 1');
          assert.equal(wrong.status, 401);
          assert.equal(nobody.status, wrong.status);
          assertMessage(wrong, locale, 'login.invalid');
          assertMessage(nobody, locale, 'login.invalid');
          assert.equal(comparable(nobody), comparable(wrong), 'the two pages are identical but for token, uid and typed identifier');
          assert.equal(nobody.headers.get('retry-after'), wrong.headers.get('retry-after'));
          // The identifier comes back; the password does not.
          assert.ok(wrong.html.includes(`value="${escapeHtml(known)}"`));
          assert.ok(!wrong.html.includes('not the password at all 1'));
        });
      }
    }

    test('an account and an unknown identifier are throttled alike', async () => {
      const citizen = await confirmedCitizen();
      const unknown = newCitizen().email;
      const seen: Record<string, string[]> = { known: [], unknown: [] };
      for (const [who, identifier] of [
        ['known', citizen.email],
        ['unknown', unknown],
      ] as const) {
        const { ua } = await atLogin();
        for (let i = 0; i < 6; i++) {
          const page = await submit(ua, identifier, `wrong password number ${i}`);
          seen[who]!.push(`${page.status} ${page.headers.get('retry-after') ? 'retry-after' : '-'} ${comparable(page).replace(/\d\d:\d\d:\d\d/g, 'TIME')}`);
          await locksExpire();
        }
      }
      assert.deepEqual(seen.unknown, seen.known);
      // Let the real citizen in again for the tests below.
      const { ua } = await atLogin();
      assert.equal((await signIn(ua, citizen.email, citizen.password)).status, 303);
    });

    test('a NUL character in the identifier or password gets a clear 400, not a 500', async () => {
      for (const [identifier, password] of [
        ['joana\u0000@example.test', 'whatever password'],
        [newCitizen().cpf, 'pass\u0000word'],
      ]) {
        const { ua } = await atLogin({ locale: 'en' });
        const page = await submit(ua, identifier!, password!);
        assert.equal(page.status, 400);
        assertMessage(page, 'en', 'error.bad_request');
      }
    });

    test('a disabled account answers like a wrong password, even with the right one', async () => {
      const other = await confirmedCitizen();
      await app.db.db.updateTable('citizens').set({ status: 'disabled' }).where('cpf', '=', other.cpf).execute();
      const a = await atLogin();
      const disabled = await submit(a.ua, other.email, other.password);
      const b = await atLogin();
      const nobody = await submit(b.ua, newCitizen().email, other.password);
      assert.equal(disabled.status, 401);
      assert.equal(comparable(disabled), comparable(nobody));
    });
  });

  describe('throttling', () => {
    test('per account and address (CPF and e-mail alike): 3 free failures, then a doubling delay with Retry-After and the time shown, then an hour at 20; other addresses still get in', async () => {
      const citizen = await confirmedCitizen();
      const address = freshAddress();
      const { ua } = await atLogin({ locale: 'es', ip: address });
      const key = `${await accountKey(citizen.cpf)}@ip:${address}`;
      let hardStopAt: number | undefined;
      for (let n = 1; n <= 22; n++) {
        // CPF, formatted CPF and e-mail in turns: one account, one count.
        const identifier = [citizen.cpf, formatCpf(citizen.cpf), citizen.email.toUpperCase()][n % 3]!;
        const page = await submit(ua, identifier, `wrong guess ${n}`);
        if (n <= 3) {
          assert.equal(page.status, 401, `failure ${n} is free`);
          assertMessage(page, 'es', 'login.invalid');
          assert.equal(page.headers.get('retry-after'), null);
        } else {
          assert.equal(page.status, 429, `failure ${n} is throttled`);
          const until = await lockedUntil([key]);
          assertMessage(page, 'es', 'login.throttled', { time: shownTime(until, 'es') });
          const expected = n >= 20 ? 3600 : Math.min(2 ** (n - 3), 15 * 60);
          const seconds = retryAfter(page);
          assert.ok(seconds <= expected && seconds >= expected - 2, `failure ${n}: Retry-After ${seconds}, expected about ${expected}`);
          if (n >= 20 && hardStopAt === undefined) hardStopAt = n;
          // While locked, even the right password is refused from this address, and the lock does not move.
          if (n === 5 || n === 20) {
            const during = await submit(ua, citizen.cpf, citizen.password);
            assert.equal(during.status, 429, 'the right password during a lock is refused');
            assertMessage(during, 'es', 'login.throttled', { time: shownTime(until, 'es') });
            assert.ok(retryAfter(during) <= expected);
            assert.equal((await lockedUntil([key])).getTime(), until.getTime());
            // From an address that has not failed, the owner's right password goes through.
            const elsewhere = await atLogin();
            assert.equal((await signIn(elsewhere.ua, citizen.email, citizen.password)).status, 303);
          }
        }
        await locksExpire();
      }
      assert.equal(hardStopAt, 20, 'an hour-long stop from the 20th consecutive failure, far below 100');
      // An hour later the right password works from that address too, and the count starts again.
      const ok = await signIn(ua, citizen.email, citizen.password);
      assert.equal(ok.status, 303);
      const { ua: again } = await atLogin({ ip: address });
      const next = await submit(again, citizen.cpf, 'wrong once more');
      assert.equal(next.status, 401, 'after a success the pair has its free failures again');
    });

    test('a success resets the account counter', async () => {
      const citizen = await confirmedCitizen();
      const { ua } = await atLogin({ locale: 'pt-BR' });
      for (let n = 1; n <= 5; n++) {
        await submit(ua, citizen.email, `errada ${n}`);
        await locksExpire();
      }
      const ok = await signIn(ua, citizen.email, citizen.password);
      assert.equal(ok.status, 303);
      const row = await app.db.db.selectFrom('login_throttle').selectAll().where('key', '=', await accountKey(citizen.email)).executeTakeFirst();
      assert.equal(row, undefined, 'the account has no failures left on record');
      const { ua: next } = await atLogin({ locale: 'pt-BR' });
      for (let n = 1; n <= 3; n++) {
        const page = await submit(next, citizen.email, `errada de novo ${n}`);
        assert.equal(page.status, 401, `failure ${n} after the success is free again`);
        assertMessage(page, 'pt-BR', 'login.invalid');
      }
    });

    test('per address: spraying many accounts from one address is slowed down, other addresses are not', async () => {
      const citizen = await confirmedCitizen();
      const sprayer = freshAddress();
      const { ua } = await atLogin({ ip: sprayer, locale: 'en' });
      let firstLock: number | undefined;
      for (let n = 1; n <= ADDRESS_FREE_FAILURES + 5 && firstLock === undefined; n++) {
        const page = await submit(ua, newCitizen().email, 'Spring2024!');
        if (page.status === 429) firstLock = n;
        else assert.equal(page.status, 401);
      }
      assert.equal(firstLock, ADDRESS_FREE_FAILURES + 1, `${ADDRESS_FREE_FAILURES} free failures per address, then a delay`);
      const page = ua.last!;
      assertMessage(page, 'en', 'login.throttled', { time: shownTime(await lockedUntil([`ip:${sprayer}`]), 'en') });
      assert.ok(retryAfter(page) >= 1);
      // The same address, the right password of a real account: still refused while locked.
      const during = await submit(ua, citizen.email, citizen.password);
      assert.equal(during.status, 429);
      // Another address is not affected.
      const elsewhere = await atLogin();
      assert.equal((await signIn(elsewhere.ua, citizen.email, citizen.password)).status, 303);
      // The lock grows with further failures from that address.
      await locksExpire();
      const more = await submit(ua, newCitizen().email, 'Spring2024!');
      assert.equal(more.status, 429);
      assert.ok(retryAfter(more) > 2, `the next delay is longer: ${retryAfter(more)}`);
    });

    test('a burst of concurrent guesses gets no more password checks than one at a time would', async () => {
      const citizen = await confirmedCitizen();
      const address = freshAddress();
      const key = `${await accountKey(citizen.email)}@ip:${address}`;
      const { ua } = await atLogin({ ip: address });
      for (let n = 1; n <= 19; n++) {
        await submit(ua, citizen.email, `sequential guess ${n}`);
        await locksExpire();
      }
      // The lock of the 19th failure is over: one more guess is due, and then the hard stop.
      const pages = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const b = await atLogin({ ip: address });
          return submit(b.ua, citizen.email, `parallel guess ${i}`);
        }),
      );
      for (const p of pages) assert.equal(p.status, 429);
      const row = await app.db.db.selectFrom('login_throttle').select(['failures']).where('key', '=', key).executeTakeFirstOrThrow();
      assert.ok(row.failures <= 20, `${row.failures - 19} of 12 parallel guesses were checked; one at a time, only 1 would have been`);
      // And that address is now in its hour-long stop for this account.
      const { ua: late } = await atLogin({ ip: address });
      const refused = await submit(late, citizen.email, citizen.password);
      assert.equal(refused.status, 429);
      assert.ok(retryAfter(refused) > 3000);
      // The owner, from an address that has not failed, is not locked out.
      const { ua: owner } = await atLogin();
      assert.equal((await signIn(owner, citizen.email, citizen.password)).status, 303);
    });
  });

  describe('a citizen whose e-mail is not confirmed yet, and the e-mail code', () => {
    /** Registers without typing the code (the person closed the tab), and returns the citizen. */
    async function unconfirmedCitizen() {
      const citizen = newCitizen();
      const ua = new UserAgent({ 'x-forwarded-for': freshAddress() });
      const login = await ua.get((await authorizationRequest(svc)).url.href, svc.redirectUri);
      const form = await ua.get(new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href);
      const page = await ua.post(formAction(form, '/register'), citizen, svc.redirectUri);
      assert.match(page.url, /\/confirm-email$/);
      await smtp.waitFor(citizen.email);
      return citizen;
    }

    /** Waits for a mail to `to` that arrived after `seen` mails were in the inbox. */
    async function mailAfter(to: string, seen: number) {
      return smtp.waitFor(to, 15_000, (m) => smtp.inbox.indexOf(m) >= seen);
    }

    async function codePage(locale: Locale) {
      const citizen = await unconfirmedCitizen();
      const seen = smtp.inbox.length;
      const { ua } = await atLogin({ locale });
      const page = await submit(ua, citizen.email.toUpperCase(), citizen.password);
      const mail = await mailAfter(citizen.email, seen);
      return { ua, page, citizen, code: codeFrom(mail) };
    }

    async function flowOf(email: string) {
      const citizen = await app.db.db.selectFrom('citizens').select('id').where('email', '=', email).executeTakeFirstOrThrow();
      return app.db.db.selectFrom('flows').selectAll().where('citizen_id', '=', citizen.id).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    }

    test('a wrong password for an unconfirmed account answers like any wrong password', async () => {
      const citizen = await unconfirmedCitizen();
      const a = await atLogin();
      const wrong = await submit(a.ua, citizen.email, 'not the password at all 1');
      const b = await atLogin();
      const nobody = await submit(b.ua, newCitizen().email, 'not the password at all 1');
      assert.equal(wrong.status, 401);
      assert.equal(comparable(wrong), comparable(nobody));
    });

    test('the right password leads to the code page, and a new code by mail', async () => {
      const { ua, page, citizen, code } = await codePage('en');
      assert.equal(page.status, 200);
      assert.match(page.url, /\/confirm-email$/);
      assertMessage(page, 'en', 'email_code.title');
      assert.ok(!page.html.includes(citizen.email), 'the address is shown masked');
      const done = await ua.post(formAction(page, '/confirm-email'), { code }, svc.redirectUri);
      assert.match(done.html, /name="decision"/, 'then the consent page');
      const row = await app.db.db.selectFrom('citizens').select('email_verified').where('email', '=', citizen.email).executeTakeFirstOrThrow();
      assert.equal(row.email_verified, true);
    });

    for (const locale of ['pt-BR', 'es'] as const) {
      test(`wrong codes show the tries left, and ${MAX_TRIES} wrong tries block the code (${locale})`, async () => {
        const { ua, page, code } = await codePage(locale);
        const wrongCode = code === '000000' ? '111111' : '000000';
        let last = page;
        for (let i = 1; i < MAX_TRIES; i++) {
          last = await ua.post(formAction(last, '/confirm-email'), { code: wrongCode }, svc.redirectUri);
          assert.equal(last.status, 422);
          assertMessage(last, locale, 'email_code.invalid', { tries: MAX_TRIES - i });
          assert.match(last.html, /<input id="code"[^>]*value=""/);
        }
        last = await ua.post(formAction(last, '/confirm-email'), { code: wrongCode }, svc.redirectUri);
        assert.equal(last.status, 422);
        assertMessage(last, locale, 'email_code.too_many');
        // Now even the right code is refused.
        const right = await ua.post(formAction(last, '/confirm-email'), { code }, svc.redirectUri);
        assert.equal(right.status, 422);
        assertMessage(right, locale, 'email_code.too_many');
        assert.doesNotMatch(right.html, /name="decision"/);
      });
    }

    test('an expired code is refused', async () => {
      const { ua, page, citizen, code } = await codePage('pt-BR');
      const flow = await flowOf(citizen.email);
      await app.db.db.updateTable('flows').set({ expires_at: sql<Date>`now() - interval '1 second'` }).where('id', '=', flow.id).execute();
      const late = await ua.post(formAction(page, '/confirm-email'), { code }, svc.redirectUri);
      assert.equal(late.status, 422);
      assertMessage(late, 'pt-BR', 'email_code.expired');
      const row = await app.db.db.selectFrom('citizens').select('email_verified').where('email', '=', citizen.email).executeTakeFirstOrThrow();
      assert.equal(row.email_verified, false);
    });

    test('resending is limited in frequency and count; a new code replaces the old one', async () => {
      const { ua, page, citizen, code } = await codePage('en');
      const resendNow = await ua.post(formAction(page, '/resend'), {}, svc.redirectUri);
      assert.equal(resendNow.status, 422);
      assertMessage(resendNow, 'en', 'email_code.wait');
      let current = code;
      let last = resendNow;
      for (let sends = 2; sends <= MAX_SENDS; sends++) {
        const flow = await flowOf(citizen.email);
        // Half a minute passes.
        const data = { ...(flow.data as Record<string, unknown>), lastSentAt: Date.now() - 60_000 };
        await app.db.db.updateTable('flows').set({ data: JSON.stringify(data) }).where('id', '=', flow.id).execute();
        const seen = smtp.inbox.length;
        last = await ua.post(formAction(last, '/resend'), {}, svc.redirectUri);
        assert.equal(last.status, 200);
        assertMessage(last, 'en', 'email_code.resent');
        const fresh = codeFrom(await mailAfter(citizen.email, seen));
        if (fresh !== current) {
          const old = await ua.post(formAction(last, '/confirm-email'), { code: current }, svc.redirectUri);
          assert.equal(old.status, 422, 'the previous code stops working');
          last = old;
        }
        current = fresh;
      }
      const flow = await flowOf(citizen.email);
      const data = { ...(flow.data as Record<string, unknown>), lastSentAt: Date.now() - 60_000 };
      await app.db.db.updateTable('flows').set({ data: JSON.stringify(data) }).where('id', '=', flow.id).execute();
      const seen = smtp.inbox.length;
      const limited = await ua.post(formAction(last, '/resend'), {}, svc.redirectUri);
      assert.equal(limited.status, 422);
      assertMessage(limited, 'en', 'email_code.send_limit');
      const pending = await app.db.db.selectFrom('messages').select('id').where('recipient', '=', citizen.email).where('status', '=', 'pending').execute();
      assert.equal(pending.length, 0);
      assert.equal(smtp.inbox.length, seen, 'no mail after the limit');
      // The latest code still works.
      const done = await ua.post(formAction(limited, '/confirm-email'), { code: current }, svc.redirectUri);
      assert.match(done.html, /name="decision"/);
    });

    test('a code is single-use', async () => {
      const { ua, page, citizen, code } = await codePage('pt-BR');
      const confirmUrl = formAction(page, '/confirm-email');
      const csrf = page.html.match(/name="_csrf" value="([^"]+)"/)![1]!;
      const done = await ua.post(confirmUrl, { code }, svc.redirectUri);
      assert.match(done.html, /name="decision"/);
      const again = await ua.post(confirmUrl, { code, _csrf: csrf }, svc.redirectUri);
      assert.ok(again.status >= 400 && again.status < 500, `status ${again.status}`);
      assert.doesNotMatch(again.html, /name="decision"/);
      // In another login, the old code means nothing either.
      const seen = smtp.inbox.length;
      await app.db.db.updateTable('citizens').set({ email_verified: false }).where('email', '=', citizen.email).execute();
      const { ua: other } = await atLogin({ locale: 'pt-BR' });
      const codeAgain = await submit(other, citizen.cpf, citizen.password);
      assert.match(codeAgain.url, /\/confirm-email$/);
      const fresh = codeFrom(await mailAfter(citizen.email, seen));
      if (fresh !== code) {
        const old = await other.post(formAction(codeAgain, '/confirm-email'), { code }, svc.redirectUri);
        assert.equal(old.status, 422);
        assertMessage(old, 'pt-BR', 'email_code.invalid', { tries: MAX_TRIES - 1 });
      }
    });
  });

  describe('rehash on login when the argon2 parameters change', () => {
    for (const [label, options] of [
      ['other memory and time costs', { algorithm: 2, memoryCost: 8192, timeCost: 3, parallelism: 1 }],
      ['argon2i instead of argon2id', { algorithm: 1, memoryCost: ARGON2_PARAMS.memoryCost, timeCost: ARGON2_PARAMS.timeCost, parallelism: 1 }],
      ['the older argon2 version 0x10', { ...ARGON2_PARAMS, version: 0 }],
      ['a longer output', { ...ARGON2_PARAMS, outputLen: 64 }],
    ] as const) {
      test(label, async () => {
        const citizen = await confirmedCitizen();
        const old = await argon2Hash(citizen.password, options);
        await setPasswordHashOf(app.db.db, citizen.cpf, old);
        const { ua } = await atLogin();
        const back = await signIn(ua, citizen.cpf, citizen.password);
        assert.equal(back.status, 303, 'the old hash still signs in');
        const row = { password_hash: await passwordHashOf(app.db.db, citizen.cpf) };
        assert.notEqual(row.password_hash, old, 'the stored hash was replaced');
        assert.match(row.password_hash!, new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}\\$`));
        assert.equal(row.password_hash!.split('$').at(-1)!.length, 43, '32-byte output');
        assert.equal(await argon2Verify(row.password_hash!, citizen.password), true);
        const { ua: next } = await atLogin();
        assert.equal((await signIn(next, citizen.email, citizen.password)).status, 303, 'and the new hash signs in');
      });
    }

    test('a hash with the current parameters is left alone', async () => {
      const citizen = await confirmedCitizen();
      const before = { password_hash: await passwordHashOf(app.db.db, citizen.cpf) };
      const { ua } = await atLogin();
      assert.equal((await signIn(ua, citizen.cpf, citizen.password)).status, 303);
      const afterLogin = { password_hash: await passwordHashOf(app.db.db, citizen.cpf) };
      assert.equal(afterLogin.password_hash, before.password_hash);
    });

    test('a failed login does not rehash', async () => {
      const citizen = await confirmedCitizen();
      const old = await argon2Hash(citizen.password, { algorithm: 2, memoryCost: 8192, timeCost: 3, parallelism: 1 });
      await setPasswordHashOf(app.db.db, citizen.cpf, old);
      const { ua } = await atLogin();
      assert.equal((await submit(ua, citizen.cpf, 'not it at all, sorry')).status, 401);
      const row = { password_hash: await passwordHashOf(app.db.db, citizen.cpf) };
      assert.equal(row.password_hash, old);
    });
  });

  test('no server error was logged', () => {
    const errors = app.logs.filter((line) => /"level":50/.test(line) || /"status":5\d\d/.test(line));
    assert.deepEqual(errors, []);
  });
});
