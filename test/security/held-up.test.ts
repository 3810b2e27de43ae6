import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeHtml } from '../../src/web/html.ts';
import { type Locale, loadMessages } from '../../src/platform/i18n.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import {
  addService,
  authorizationRequest,
  newCitizen,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';
import { csrfOf, formAction, type Page } from '../helpers/user-agent.ts';
import { atLoginPage, newAddress, rawRequest } from './attacker.ts';

/**
 * What the security review tried and found holding, kept as attacks so that it stays so: redirect
 * URI variants, CSRF variants, account enumeration by the shape of the login answer, oversize and
 * NUL input. (Replays and PKCE: token-replay.test.ts; proxy headers: proxy-headers.test.ts.)
 */
const messages = loadMessages();
const text = (locale: Locale, key: string) => escapeHtml(messages[locale][key]!);

describe('held up: redirect URIs, CSRF, enumeration, oversize and NUL input', () => {
  let app: TestApp;
  let svc: TestService;

  before(async () => {
    app = await startTestApp({ TRUST_PROXY: 'true', DEMO: 'off' });
    svc = await addService(app);
  });

  after(async () => {
    await app?.stop();
  });

  const citizenCount = async () =>
    Number(
      (
        await app.db.db
          .selectFrom('citizens')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  describe('redirect URIs: only the exact registered one', () => {
    const registered = () => new URL(svc.redirectUri);
    const variants: [string, () => string][] = [
      ['a trailing slash', () => `${svc.redirectUri}/`],
      ['a longer path', () => `${svc.redirectUri}/../../evil`],
      ['a suffix on the last segment', () => `${svc.redirectUri}x`],
      ['an added query', () => `${svc.redirectUri}?next=https://evil.example/`],
      ['a fragment', () => `${svc.redirectUri}#https://evil.example/`],
      ['another port', () => svc.redirectUri.replace(':9/', ':10/')],
      ['another host name for loopback', () => svc.redirectUri.replace('127.0.0.1', 'localhost')],
      ['https instead of http', () => svc.redirectUri.replace('http:', 'https:')],
      ['upper-case path', () => svc.redirectUri.replace('/cb/', '/CB/')],
      ['userinfo before the host', () => `http://evil.example@${registered().host}${registered().pathname}`],
      ['the host as userinfo', () => `http://${registered().host}@evil.example${registered().pathname}`],
      ['an encoded slash', () => svc.redirectUri.replace('/cb/', '/cb%2F')],
      ['a backslash', () => svc.redirectUri.replace('/cb/', '/cb\\')],
      ['another scheme', () => `javascript://${registered().host}${registered().pathname}%0aalert(1)`],
      ['an attacker site', () => 'https://evil.example/cb'],
    ];
    for (const [label, uri] of variants) {
      test(`refused: ${label}`, async () => {
        const auth = await authorizationRequest(svc, { redirect_uri: uri() });
        const res = await fetch(auth.url, { redirect: 'manual' });
        assert.equal(res.status, 400, `${uri()}: ${res.status}`);
        assert.equal(res.headers.get('location'), null, 'no redirect at all');
        assert.doesNotMatch(await res.text(), /evil\.example|javascript:/);
      });
    }
  });

  describe('CSRF: a form is taken only with the token made for this browser', () => {
    const variants: [string, (ua: UserAgent, page: Page, other: string) => Promise<Page>][] = [
      [
        'no token',
        (ua, page) =>
          ua.post(formAction(page, '/login'), { identifier: 'x', password: 'y' }, undefined, { csrf: false }),
      ],
      [
        'an empty token',
        (ua, page) => ua.post(formAction(page, '/login'), { _csrf: '', identifier: 'x', password: 'y' }),
      ],
      [
        'the token of another browser',
        (ua, page, other) =>
          ua.post(formAction(page, '/login'), { _csrf: other, identifier: 'x', password: 'y' }),
      ],
      [
        'the token twice (an array)',
        (ua, page) => {
          const body = new URLSearchParams([
            ['_csrf', csrfOf(page.html)!],
            ['_csrf', csrfOf(page.html)!],
            ['identifier', 'x'],
            ['password', 'y'],
          ]);
          return ua.follow(formAction(page, '/login'), {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          });
        },
      ],
      [
        'the token in the query string only',
        (ua, page) =>
          ua.post(
            `${formAction(page, '/login')}?_csrf=${encodeURIComponent(csrfOf(page.html)!)}`,
            { identifier: 'x', password: 'y' },
            undefined,
            {
              csrf: false,
            },
          ),
      ],
      [
        'a JSON body with the token of another browser',
        (ua, page, other) =>
          ua.follow(formAction(page, '/login'), {
            method: 'POST',
            body: JSON.stringify({ _csrf: other, identifier: 'x', password: 'y' }),
            headers: { 'content-type': 'application/json' },
          }),
      ],
      [
        'the right token without the cookie (a cross-site post)',
        async (ua, page) => {
          const token = csrfOf(page.html)!;
          ua.cookies.delete('cdl_csrf');
          return ua.post(formAction(page, '/login'), { _csrf: token, identifier: 'x', password: 'y' });
        },
      ],
    ];
    for (const [label, send] of variants) {
      test(`refused: ${label}; nothing is checked or counted`, async () => {
        const otherBrowser = await atLoginPage(svc, newAddress());
        const { ua, page } = await atLoginPage(svc, newAddress(), { 'accept-language': 'es' });
        const throttleRows = await app.db.db.selectFrom('login_throttle').select('key').execute();
        const answer = await send(ua, page, csrfOf(otherBrowser.page.html)!);
        assert.equal(answer.status, 403, `${label}: ${answer.status}`);
        if (answer.html.startsWith('<!doctype html>'))
          assert.ok(answer.html.includes(text('es', 'csrf.title')));
        assert.deepEqual(await app.db.db.selectFrom('login_throttle').select('key').execute(), throttleRows);
      });
    }

    test('refused: a registration without its token creates nobody', async () => {
      const { ua, page } = await atLoginPage(svc, newAddress());
      const registerUrl = new URL(page.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, page.url)
        .href;
      const form = await ua.get(registerUrl);
      const before = await citizenCount();
      const answer = await ua.post(formAction(form, '/register'), newCitizen(), undefined, { csrf: false });
      assert.equal(answer.status, 403);
      assert.equal(await citizenCount(), before);
    });
  });

  test('enumeration: a wrong password, an unknown identifier and a disabled account look the same', async () => {
    const known = await seedCitizen(app.db.db);
    const disabled = await seedCitizen(app.db.db);
    await app.db.db
      .updateTable('citizens')
      .set({ status: 'disabled' })
      .where('id', '=', disabled.id)
      .execute();
    const shape = async (identifier: string, password: string) => {
      const { ua, page } = await atLoginPage(svc, newAddress(), { 'accept-language': 'en' });
      const res = await ua.request(formAction(page, '/login'), {
        method: 'POST',
        body: new URLSearchParams({ _csrf: csrfOf(page.html)!, identifier, password }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      const body = await res.text();
      const headers: string[] = [];
      res.headers.forEach((_value, name) => {
        if (!['date', 'x-request-id', 'content-length', 'set-cookie'].includes(name)) headers.push(name);
      });
      headers.sort();
      const cookies = res.headers
        .getSetCookie()
        .map((c) => c.split('=')[0])
        .sort();
      return {
        status: res.status,
        headers,
        cookies,
        body: body
          .replace(/name="_csrf" value="[^"]*"/g, '')
          .replace(/\/interaction\/[\w-]+/g, '/interaction/UID')
          .replace(/(name="identifier" type="text" value=")[^"]*"/, '$1"'),
      };
    };
    const wrong = await shape(known.email, 'not the password 1');
    assert.equal(wrong.status, 401);
    assert.deepEqual(await shape(newCitizen().email, 'not the password 1'), wrong, 'unknown e-mail');
    assert.deepEqual(await shape(newCitizen().cpf, 'not the password 1'), wrong, 'unknown CPF');
    assert.deepEqual(
      await shape(disabled.email, disabled.password),
      wrong,
      'disabled account, right password',
    );
  });

  describe('oversize and NUL input: a clear answer, never a 500, nothing stored', () => {
    test('a login form over the body limit gets 413 in the person’s language', async () => {
      const { ua, page } = await atLoginPage(svc, newAddress(), { 'accept-language': 'es' });
      const answer = await ua.post(formAction(page, '/login'), {
        identifier: 'x',
        password: 'a'.repeat(100_000),
      });
      assert.equal(answer.status, 413);
      assert.ok(answer.html.includes(text('es', 'error.too_large')));
    });

    test('NUL in a form field, a query or a path gets 400, not a 500', async () => {
      const { ua, page } = await atLoginPage(svc, newAddress(), { 'accept-language': 'en' });
      const answer = await ua.post(formAction(page, '/login'), {
        identifier: 'joana\u0000@example.test',
        password: 'x',
      });
      assert.equal(answer.status, 400);
      assert.ok(answer.html.includes(text('en', 'error.bad_request')));
      for (const path of [
        '/?lang=%00',
        '/conta?x=%00',
        '/interaction/%00abc',
        `/interaction/${'a'.repeat(5000)}`,
      ]) {
        const res = await rawRequest(app.url, path);
        assert.ok(res.status >= 400 && res.status < 500, `${path.slice(0, 40)}: ${res.status}`);
      }
    });

    test('the admin API: oversize JSON is 413, NUL is 400, wrong types are 400; nothing is created', async () => {
      const before = await app.db.db.selectFrom('services').select('client_id').execute();
      const post = (body: string) =>
        fetch(`${app.url}/admin/api/services`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
          body,
        });
      const base = {
        name: 'Serviço',
        redirectUris: ['https://svc.example/cb'],
        termsMarkdown: '# T',
        fields: [],
      };
      const cases: [string, string, number][] = [
        ['oversize', JSON.stringify({ ...base, termsMarkdown: 'x'.repeat(300_000) }), 413],
        ['NUL in a value', JSON.stringify({ ...base, name: 'a\u0000b' }), 400],
        ['NUL in a key', JSON.stringify({ ...base, 'x\u0000': 1 }), 400],
        ['a number for a string', JSON.stringify({ ...base, name: 42 }), 400],
        ['an array for the body', JSON.stringify([base]), 400],
        ['malformed JSON', '{"name": ', 400],
        ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`, 400],
      ];
      for (const [label, body, status] of cases) {
        const res = await post(body);
        assert.equal(res.status, status, `${label}: ${res.status}`);
        assert.equal(typeof (await res.json()).error, 'string');
      }
      assert.deepEqual(await app.db.db.selectFrom('services').select('client_id').execute(), before);
    });
  });

  test('no server error was logged', () => {
    const errors = app.logs.filter((line) => /"level":50/.test(line) || /"status":5\d\d/.test(line));
    assert.deepEqual(errors, []);
  });
});
