import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import * as client from 'openid-client';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  loginThroughService,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, TEST_ADMIN_TOKEN, TEST_SECRET, type TestApp } from '../helpers/test-app.ts';
import { rawRequest } from './attacker.ts';

/** Security review, finding 8: the low ones (those outside the sign-in and registration flows). */
describe('finding 8 (low): codes at rest, introspection, 404 links, the built-in service', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let svc: TestService;
  let other: TestService;

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url, DEMO: 'off', MESSAGES_RETENTION_DAYS: '7' });
    svc = await addService(app);
    other = await addService(app);
  });

  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  test('a code sent by mail is kept nowhere in the database once delivered', async () => {
    const ua = new UserAgent();
    const { citizen } = await registerThroughService(ua, svc, await authorizationRequest(svc), smtp);
    const code = codeFrom(await smtp.waitFor(citizen.email));
    const rows = await app.db.db
      .selectFrom('messages')
      .selectAll()
      .where('recipient', '=', citizen.email)
      .execute();
    assert.ok(rows.length > 0 && rows.every((r) => r.status === 'sent'));
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        assert.ok(!String(value ?? '').includes(code), `messages.${column} still holds the code`);
      }
    }
  });

  test('sent messages are removed after MESSAGES_RETENTION_DAYS; pending ones stay', async () => {
    const old = sql<Date>`now() - interval '8 days'`;
    const recent = sql<Date>`now() - interval '6 days'`;
    const row = (recipient: string, status: 'sent' | 'pending' | 'failed', at: typeof old) => ({
      channel: 'email' as const,
      recipient,
      subject: '',
      body_text: null,
      body_html: null,
      status,
      last_error: null,
      created_at: at,
      sent_at: status === 'sent' ? at : null,
      next_attempt_at: sql<Date>`now() + interval '1 day'`,
    });
    await app.db.db
      .insertInto('messages')
      .values([
        row('old-sent@retention.test', 'sent', old),
        row('old-failed@retention.test', 'failed', old),
        row('recent-sent@retention.test', 'sent', recent),
        row('old-pending@retention.test', 'pending', old),
      ])
      .execute();
    await app.prune();
    const left = (
      await app.db.db
        .selectFrom('messages')
        .select('recipient')
        .where('recipient', 'like', '%@retention.test')
        .execute()
    ).map((r) => r.recipient);
    assert.deepEqual(left.sort(), ['old-pending@retention.test', 'recent-sent@retention.test']);
  });

  test("a service cannot introspect another service's tokens (nor learn which services a citizen uses)", async () => {
    const citizen = await seedCitizen(app.db.db);
    const ua = new UserAgent();
    const auth = await authorizationRequest(svc);
    let page = await loginThroughService(ua, svc, auth, citizen.email, citizen.password);
    if (page.status === 200) page = await answerConsent(ua, page, svc);
    const tokens = await exchange(svc, auth, page.url);
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      assert.equal((await client.tokenIntrospection(svc.config, token)).active, true, 'its own service may');
      const seen = await client.tokenIntrospection(other.config, token);
      assert.equal(seen.active, false, 'another service learns nothing');
      assert.equal(seen.sub, undefined);
      assert.equal(seen.client_id, undefined);
    }
  });

  test('language links on a 404 page never leave the site (protocol-relative paths)', async () => {
    for (const path of [
      '/.//evil.example/x',
      '/./\\evil.example/x',
      '/%2e//evil.example/x',
      '//evil.example/x',
      '/.///evil.example',
      '/x/..//evil.example/y',
    ]) {
      const res = await rawRequest(app.url, path, { headers: { 'accept-language': 'en' } });
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
      const hrefs = [...res.body.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);
      assert.ok(hrefs.length > 0);
      for (const href of hrefs) {
        const target = new URL(href.replace(/&amp;/g, '&'), `${app.url}/`);
        assert.equal(target.origin, app.url, `${path}: the link ${href} leads to ${target.origin}`);
      }
    }
  });

  test('the admin API cannot change, re-key or delete the built-in account service', async () => {
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${app.url}/admin/api/services/cidadela-conta${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const before = await app.db.db
      .selectFrom('services')
      .selectAll()
      .where('client_id', '=', 'cidadela-conta')
      .executeTakeFirstOrThrow();
    for (const [method, path, body] of [
      ['PATCH', '', { redirectUris: ['https://evil.example/cb'] }],
      ['PATCH', '', { name: 'Conta (editada)' }],
      ['POST', '/rotate-secret', {}],
      ['DELETE', '', undefined],
    ] as const) {
      const res = await admin(method, path, body);
      assert.equal(res.status, 403, `${method} ${path}: ${res.status}`);
      assert.equal((await res.json()).error, 'service.built_in');
    }
    const afterwards = await app.db.db
      .selectFrom('services')
      .selectAll()
      .where('client_id', '=', 'cidadela-conta')
      .executeTakeFirstOrThrow();
    assert.deepEqual(afterwards, before);
    const read = await admin('GET', '');
    assert.equal(read.status, 200, 'it can still be read');
  });

  test('no server error was logged', () => {
    const errors = app.logs.filter((line) => /"level":50/.test(line) || /"status":5\d\d/.test(line));
    assert.deepEqual(errors, []);
  });
});

describe('finding 8 (low): production refuses an http:// PUBLIC_URL', () => {
  const production = (publicUrl: string) => () =>
    loadConfig({
      NODE_ENV: 'production',
      SECRET_KEY: TEST_SECRET,
      PUBLIC_URL: publicUrl,
      DATA_DIR: '.test-data/config',
    });

  for (const url of [
    'http://cidadela.example',
    'http://cidadela.example:8080/',
    'http://10.0.0.5',
    'http://localhost.evil.example',
  ]) {
    test(`refuses ${url}`, () => {
      assert.throws(
        production(url),
        (e: unknown) => e instanceof ConfigError && /PUBLIC_URL/.test(e.message),
      );
    });
  }

  for (const url of [
    'https://cidadela.example',
    'http://localhost:3000',
    'http://127.0.0.1:3000',
    'http://[::1]:3000',
  ]) {
    test(`accepts ${url}`, () => {
      assert.doesNotThrow(production(url));
    });
  }

  test('development still starts on http://', () => {
    assert.doesNotThrow(() =>
      loadConfig({
        NODE_ENV: 'development',
        SECRET_KEY: TEST_SECRET,
        PUBLIC_URL: 'http://cidadela.example',
        DATA_DIR: '.test-data/config',
      }),
    );
  });
});
