import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import {
  answerConsent,
  authorizationRequest,
  exchange,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';

type Json = Record<string, any>;

describe('admin API: /admin/api/services', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  // What exists before the test adds anything (the account pages' own first-party service).
  let preexisting: string[];

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url, DEMO: 'off' });
    preexisting = (await app.db.db.selectFrom('services').select('client_id').execute()).map((r) => r.client_id);
  });

  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const init: RequestInit = {
      method,
      headers: {
        authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    };
    const res = await fetch(`${app.url}${path}`, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as Json };
  }

  const valid = (extra: Json = {}) => ({
    name: 'Matrícula escolar',
    redirectUris: ['http://127.0.0.1:9/matricula/cb'],
    postLogoutRedirectUris: ['http://127.0.0.1:9/matricula/'],
    termsMarkdown: '# Termos\n\nOs dados da matrícula.',
    fields: [
      { key: 'name', required: true, purpose: 'para a ficha do aluno' },
      { key: 'email', required: true, purpose: 'para avisos da matrícula' },
    ],
    ...extra,
  });

  test('without the right Bearer token every route answers 401 with the same message', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer wrong-token-wrong-token-wrong' },
      { authorization: `Bearer ${TEST_ADMIN_TOKEN}x` },
      { authorization: `Bearer ${TEST_ADMIN_TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString('base64')}` },
      { authorization: `bearer${TEST_ADMIN_TOKEN}` },
    ];
    const routes: [string, string, unknown?][] = [
      ['GET', '/admin/api/services'],
      ['POST', '/admin/api/services', valid()],
      ['GET', '/admin/api/services/no-such-service'],
      ['PATCH', '/admin/api/services/no-such-service', { name: 'x' }],
      ['POST', '/admin/api/services/no-such-service/rotate-secret', {}],
      ['DELETE', '/admin/api/services/no-such-service'],
    ];
    for (const headers of attempts) {
      for (const [method, path, body] of routes) {
        const res = await fetch(`${app.url}${path}`, {
          method,
          headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        assert.equal(res.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
        assert.deepEqual(await res.json(), { error: 'unauthorized' });
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
      }
    }
    const list = await call('GET', '/admin/api/services');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.services.map((s: Json) => s.clientId),
      preexisting,
      'nothing was created by the refused requests',
    );
  });

  let created: Json;
  let secret: string;

  test('POST creates a service and returns its secret once; GET lists and shows it without the secret', async () => {
    const res = await call('POST', '/admin/api/services', valid({ clientId: 'matricula-escolar', description: 'Vagas nas escolas' }));
    assert.equal(res.status, 201);
    created = res.body.service;
    secret = res.body.clientSecret;
    assert.equal(created.clientId, 'matricula-escolar');
    assert.equal(created.name, 'Matrícula escolar');
    assert.equal(created.tokenEndpointAuthMethod, 'client_secret_basic');
    assert.ok(typeof secret === 'string' && secret.length >= 40);

    const list = await call('GET', '/admin/api/services');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.services.map((s: Json) => s.clientId),
      [...preexisting, 'matricula-escolar'],
    );
    const one = await call('GET', '/admin/api/services/matricula-escolar');
    assert.equal(one.status, 200);
    assert.equal(one.body.service.description, 'Vagas nas escolas');
    assert.deepEqual(
      one.body.service.fields.map((f: Json) => f.key),
      ['name', 'email'],
    );
    for (const body of [list.body, one.body]) {
      assert.ok(!JSON.stringify(body).includes(secret));
      assert.doesNotMatch(JSON.stringify(body), /sha256:|"client_?secret(_hash)?"/i);
    }
    const row = await app.db.db.selectFrom('services').select('client_secret_hash').where('client_id', '=', 'matricula-escolar').executeTakeFirstOrThrow();
    assert.match(row.client_secret_hash ?? '', /^sha256:/);
    assert.ok(!row.client_secret_hash?.includes(secret));

    const duplicate = await call('POST', '/admin/api/services', valid({ clientId: 'matricula-escolar' }));
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.body.error, 'service.exists');
  });

  test('PATCH changes what was sent and keeps the rest', async () => {
    const res = await call('PATCH', '/admin/api/services/matricula-escolar', {
      name: 'Matrícula na rede municipal',
      redirectUris: ['http://127.0.0.1:9/matricula/cb', 'https://matricula.example/cb'],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.service.name, 'Matrícula na rede municipal');
    assert.deepEqual(res.body.service.redirectUris, ['http://127.0.0.1:9/matricula/cb', 'https://matricula.example/cb']);
    assert.equal(res.body.service.description, 'Vagas nas escolas');
    assert.deepEqual(res.body.service.postLogoutRedirectUris, ['http://127.0.0.1:9/matricula/']);
    const shown = await call('GET', '/admin/api/services/matricula-escolar');
    assert.equal(shown.body.service.name, 'Matrícula na rede municipal');
  });

  test('invalid input: 400 with the field at fault, and nothing stored or changed', async () => {
    const cases: [string, string, unknown, { field: string; message: RegExp }[]][] = [
      ['POST', '/admin/api/services', valid({ redirectUris: ['https://x.example/cb#frag'] }), [{ field: 'redirectUris.0', message: /fragment/ }]],
      ['POST', '/admin/api/services', valid({ redirectUris: ['http://x.example/cb'] }), [{ field: 'redirectUris.0', message: /https/ }]],
      ['POST', '/admin/api/services', valid({ redirectUris: [] }), [{ field: 'redirectUris', message: /./ }]],
      ['POST', '/admin/api/services', { redirectUris: ['https://x.example/cb'] }, [{ field: 'name', message: /^required$/ }]],
      ['POST', '/admin/api/services', valid({ tokenEndpointAuthMethod: 'none' }), [{ field: 'tokenEndpointAuthMethod', message: /client_secret_basic/ }]],
      ['POST', '/admin/api/services', valid({ tokenEndpointAuthMethod: 'private_key_jwt' }), [{ field: 'jwks', message: /jwks/ }]],
      ['POST', '/admin/api/services', valid({ clientId: 'Not Valid!' }), [{ field: 'clientId', message: /lower-case/ }]],
      ['POST', '/admin/api/services', valid({ clientSecret: 'chosen-by-me' }), [{ field: 'clientSecret', message: /unknown field/ }]],
      ['POST', '/admin/api/services', [valid()], [{ field: '', message: /object/ }]],
      ['PATCH', '/admin/api/services/matricula-escolar', { redirectUris: ['ftp://x.example/cb'] }, [{ field: 'redirectUris.0', message: /https/ }]],
      ['PATCH', '/admin/api/services/matricula-escolar', { name: '' }, [{ field: 'name', message: /./ }]],
      ['PATCH', '/admin/api/services/matricula-escolar', { tokenEndpointAuthMethod: 'private_key_jwt' }, [{ field: 'jwks', message: /jwks/ }]],
      ['PATCH', '/admin/api/services/matricula-escolar', { clientId: 'renamed' }, [{ field: 'clientId', message: /unknown field/ }]],
    ];
    for (const [method, path, body, expected] of cases) {
      const res = await call(method, path, body);
      const what = `${method} ${JSON.stringify(body)}`;
      assert.equal(res.status, 400, what);
      assert.equal(res.body.error, 'service.invalid', what);
      for (const e of expected) {
        const detail = (res.body.details as { field: string; message: string }[]).find((d) => d.field === e.field);
        assert.ok(detail, `${what}: a detail for "${e.field}" in ${JSON.stringify(res.body.details)}`);
        assert.match(detail.message, e.message, what);
      }
    }
    const malformed = await call('POST', '/admin/api/services', '{"name": ');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error, 'error.bad_request');

    const list = await call('GET', '/admin/api/services');
    assert.equal(list.body.services.length, preexisting.length + 1);
    const kept = (await call('GET', '/admin/api/services/matricula-escolar')).body.service;
    assert.equal(kept.name, 'Matrícula na rede municipal');
    assert.equal(kept.tokenEndpointAuthMethod, 'client_secret_basic');
    assert.deepEqual(kept.redirectUris, ['http://127.0.0.1:9/matricula/cb', 'https://matricula.example/cb']);
  });

  test('unknown ids answer 404 on every route', async () => {
    for (const [method, path, body] of [
      ['GET', '/admin/api/services/no-such-service', undefined],
      ['PATCH', '/admin/api/services/no-such-service', { name: 'x' }],
      ['POST', '/admin/api/services/no-such-service/rotate-secret', undefined],
      ['DELETE', '/admin/api/services/no-such-service', undefined],
    ] as const) {
      const res = await call(method, path, body);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error, 'service.not_found');
    }
    const unknownRoute = await call('GET', '/admin/api/nothing-here');
    assert.equal(unknownRoute.status, 404);
  });

  test('a 1 MB body is refused with 413 and stores nothing', async () => {
    const big = valid({ clientId: 'grande-demais', description: 'x'.repeat(1024 * 1024) });
    const res = await call('POST', '/admin/api/services', big);
    assert.equal(res.status, 413);
    assert.equal(res.body.error, 'error.too_large');
    const patch = await call('PATCH', '/admin/api/services/matricula-escolar', { termsMarkdown: 'x'.repeat(1024 * 1024) });
    assert.equal(patch.status, 413);
    assert.equal((await call('GET', '/admin/api/services/grande-demais')).status, 404);
  });

  async function rpFor(clientId: string, clientSecret: string, redirectUri: string): Promise<TestService> {
    const config = await client.discovery(new URL(app.url), clientId, clientSecret, undefined, { execute: [client.allowInsecureRequests] });
    return { clientId, clientSecret, redirectUri, config };
  }

  test('a service registered through the API works at once: discovery and a full code flow', async () => {
    const svc = await rpFor(created.clientId, secret, 'http://127.0.0.1:9/matricula/cb');
    const ua = new UserAgent();
    const auth = await authorizationRequest(svc);
    const { page, citizen } = await registerThroughService(ua, svc, auth, smtp);
    assert.match(page.html, /Matrícula na rede municipal/, 'the consent page names the service as registered');
    const callback = await answerConsent(ua, page, svc);
    const tokens = await exchange(svc, auth, callback.url);
    assert.equal(tokens.claims()!.aud, created.clientId);
    const info = await client.fetchUserInfo(svc.config, tokens.access_token, tokens.claims()!.sub);
    assert.equal(info.email, citizen.email);
  });

  test('rotate-secret: the old secret is refused at the token endpoint, the new one works', async () => {
    const res = await call('POST', '/admin/api/services/matricula-escolar/rotate-secret');
    assert.equal(res.status, 200);
    const fresh = res.body.clientSecret as string;
    assert.ok(fresh && fresh !== secret);
    const old = await rpFor(created.clientId, secret, 'http://127.0.0.1:9/matricula/cb');
    await assert.rejects(client.refreshTokenGrant(old.config, 'not-a-refresh-token'), (e: { error?: string }) => e.error === 'invalid_client');
    const now = await rpFor(created.clientId, fresh, 'http://127.0.0.1:9/matricula/cb');
    await assert.rejects(client.refreshTokenGrant(now.config, 'not-a-refresh-token'), (e: { error?: string }) => e.error === 'invalid_grant');
    // And a whole sign-in with the new secret, from a fresh browser.
    const auth = await authorizationRequest(now);
    const ua = new UserAgent();
    const { page } = await registerThroughService(ua, now, auth, smtp);
    const tokens = await exchange(now, auth, (await answerConsent(ua, page, now)).url);
    assert.ok(tokens.access_token);
    secret = fresh;
  });

  test('DELETE removes the service: 204, then 404, and the token endpoint no longer knows it', async () => {
    const res = await call('DELETE', '/admin/api/services/matricula-escolar');
    assert.equal(res.status, 204);
    assert.equal((await call('GET', '/admin/api/services/matricula-escolar')).status, 404);
    assert.equal((await call('DELETE', '/admin/api/services/matricula-escolar')).status, 404);
    const gone = await rpFor(created.clientId, secret, 'http://127.0.0.1:9/matricula/cb');
    await assert.rejects(client.refreshTokenGrant(gone.config, 'not-a-refresh-token'), (e: { error?: string }) => e.error === 'invalid_client');
  });

  test('no admin token or client secret appears in the logs', () => {
    const all = app.logs.join('\n');
    assert.ok(all.length > 0);
    assert.ok(!all.includes(TEST_ADMIN_TOKEN));
    assert.ok(!all.includes(secret));
  });
});

describe('admin API without ADMIN_TOKEN', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ ADMIN_TOKEN: '', DEMO: 'off' });
  });
  after(async () => {
    await app?.stop();
  });

  test('every admin route answers 404, with or without a token', async () => {
    for (const headers of [{}, { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, { authorization: 'Bearer ' }]) {
      for (const [method, path] of [
        ['GET', '/admin/api/services'],
        ['POST', '/admin/api/services'],
        ['GET', '/admin/api/services/demo-servico'],
        ['DELETE', '/admin/api/services/demo-servico'],
      ]) {
        const res = await fetch(`${app.url}${path}`, {
          method,
          headers: { ...headers, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) } as Record<string, string>,
          ...(method === 'POST' ? { body: JSON.stringify({ name: 'x', redirectUris: ['https://x.example/cb'] }) } : {}),
        });
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.deepEqual(await res.json(), { error: 'not_found' });
      }
    }
    const rows = await app.db.db.selectFrom('services').select('client_id').where('first_party', '=', false).execute();
    assert.deepEqual(rows, [], 'no service was created');
  });
});
