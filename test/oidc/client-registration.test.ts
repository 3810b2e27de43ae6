import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { serviceCommand } from '../../src/cli/service-command.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';

type Json = Record<string, any>;

/**
 * Which redirect URIs each kind of service may register, decided once (src/services/client-types.ts)
 * for the CLI, the admin API and the provider. Before, the admin API accepted a custom-scheme
 * redirect (or back-channel logout URI) for any service, and the provider then refused the service
 * when a citizen signed in (security review, issue 8).
 */
describe('registering apps: what is accepted works at sign-in, what is not is refused up front', () => {
  let app: TestApp;
  let counter = 0;

  before(async () => {
    app = await startTestApp({ DEMO: 'off' });
  });
  after(async () => {
    await app?.stop();
  });

  async function admin(method: string, path: string, body?: unknown) {
    const res = await fetch(`${app.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
  }

  const count = async () =>
    Number(
      (
        await app.db.db
          .selectFrom('services')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  /** Where the provider sends a browser that starts a sign-in at `clientId` returning to `redirectUri`. */
  async function startSignIn(clientId: string, redirectUri: string) {
    const url = new URL(`${app.url}/oidc/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: redirectUri,
      state: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location') ?? '', html: await res.text() };
  }

  // [type, redirect URI, undefined when accepted or what the refusal says]
  const cases: [string, string, RegExp | undefined][] = [
    ['confidential', 'https://servico.cidade.example/cb', undefined],
    ['confidential', 'http://127.0.0.1:9/cb', undefined],
    ['confidential', 'http://localhost:8080/cb', undefined],
    ['confidential', 'br.gov.cidade.app:/cb', /private-use scheme .* type native/],
    ['confidential', 'http://servico.cidade.example/cb', /https/],
    ['confidential', 'https://*.cidade.example/cb', /wildcards are not allowed/],
    ['confidential', 'javascript:alert(1)', /https/],
    ['native', 'br.gov.cidade.app:/cb', undefined],
    ['native', 'https://app.cidade.example/entrar', undefined],
    ['native', 'http://127.0.0.1/oauth2redirect', undefined],
    ['native', 'http://[::1]/oauth2redirect', undefined],
    ['native', 'http://127.0.0.1:51234/oauth2redirect', undefined],
    ['native', 'http://app.cidade.example/cb', /http only on the loopback interface/],
    ['native', 'cidadeapp:/cb', /reverse order, with at least one dot/],
    ['native', 'br.gov.cidade.app://cb', /single slash/],
    ['native', 'http://localhost/cb', /not localhost/],
    ['native', 'https://127.0.0.1/cb', /cannot be on a loopback address/],
    ['native', 'br.gov.cidade.*:/cb', /wildcards are not allowed/],
    ['native', 'http://127.0.0.1:*/cb', /wildcards are not allowed/],
    ['native', 'javascript:alert(1)', /reverse order/],
    ['native', 'br.gov.cidade.app:/cb#x', /fragment/],
    ['spa', 'https://portal.cidade.example/entrar', undefined],
    ['spa', 'http://127.0.0.1:5173/entrar', undefined],
    ['spa', 'br.gov.cidade.app:/cb', /type native/],
    ['spa', 'http://portal.cidade.example/entrar', /https/],
  ];

  test('each redirect URI the API accepts starts a sign-in; each it refuses names the rule', async () => {
    for (const [type, uri, refusal] of cases) {
      const before = await count();
      const res = await admin('POST', '/admin/api/services', {
        name: `Serviço ${++counter}`,
        type,
        redirectUris: [uri],
      });
      const what = `${type} ${uri}`;
      if (refusal) {
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error, 'service.invalid');
        const detail = (res.body.details as { field: string; message: string }[]).find(
          (d) => d.field === 'redirectUris.0',
        );
        assert.ok(detail, `${what}: ${JSON.stringify(res.body.details)}`);
        assert.match(detail.message, refusal, what);
        assert.equal(await count(), before, `${what}: nothing stored`);
        continue;
      }
      assert.equal(res.status, 201, `${what}: ${JSON.stringify(res.body)}`);
      const { clientId } = res.body.service;
      // A loopback redirect is requested on whatever port the app got (RFC 8252 §7.3).
      const requested =
        type === 'native' && uri.startsWith('http://')
          ? uri.replace(/^(http:\/\/(?:127\.0\.0\.1|\[::1\]))(?::\d+)?/, '$1:49152')
          : uri;
      const start = await startSignIn(clientId, requested);
      assert.equal(
        start.status,
        303,
        `${what}: the provider accepts the client (${start.html.slice(0, 300)})`,
      );
      assert.match(start.location, /\/interaction\//, what);
    }
  });

  test('the other addresses and settings of an app are checked the same way', async () => {
    const refused: [Json, string, RegExp][] = [
      [
        {
          type: 'native',
          redirectUris: ['br.gov.cidade.app:/cb'],
          backchannelLogoutUri: 'https://app.cidade.example/bc',
        },
        'backchannelLogoutUri',
        /no server/,
      ],
      [
        {
          redirectUris: ['https://servico.cidade.example/cb'],
          backchannelLogoutUri: 'br.gov.cidade.app:/logout',
        },
        'backchannelLogoutUri',
        /https/,
      ],
      [
        {
          type: 'native',
          redirectUris: ['br.gov.cidade.app:/cb'],
          postLogoutRedirectUris: ['cidadeapp:/saiu'],
        },
        'postLogoutRedirectUris.0',
        /reverse order/,
      ],
      [
        {
          type: 'native',
          redirectUris: ['br.gov.cidade.app:/cb'],
          tokenEndpointAuthMethod: 'client_secret_basic',
        },
        'tokenEndpointAuthMethod',
        /cannot keep a secret/,
      ],
      [
        {
          type: 'spa',
          redirectUris: ['https://portal.cidade.example/cb'],
          allowedOrigins: ['https://portal.cidade.example/'],
        },
        'allowedOrigins.0',
        /origin alone/,
      ],
      [
        {
          type: 'spa',
          redirectUris: ['https://portal.cidade.example/cb'],
          allowedOrigins: ['https://*.cidade.example'],
        },
        'allowedOrigins.0',
        /wildcards/,
      ],
      [
        {
          type: 'spa',
          redirectUris: ['https://portal.cidade.example/cb'],
          allowedOrigins: ['http://portal.cidade.example'],
        },
        'allowedOrigins.0',
        /https/,
      ],
      [
        {
          redirectUris: ['https://servico.cidade.example/cb'],
          allowedOrigins: ['https://servico.cidade.example'],
        },
        'allowedOrigins',
        /type spa/,
      ],
      [{ type: 'mobile', redirectUris: ['br.gov.cidade.app:/cb'] }, 'type', /confidential|native|spa/],
    ];
    const before = await count();
    for (const [input, field, message] of refused) {
      const res = await admin('POST', '/admin/api/services', { name: `Serviço ${++counter}`, ...input });
      assert.equal(res.status, 400, JSON.stringify(input));
      const detail = (res.body.details as { field: string; message: string }[]).find(
        (d) => d.field === field,
      );
      assert.ok(detail, `${JSON.stringify(input)}: ${JSON.stringify(res.body.details)}`);
      assert.match(detail.message, message);
    }
    assert.equal(await count(), before, 'nothing stored');

    // A change is checked against the service as it will be, and an app stays an app.
    const created = await admin('POST', '/admin/api/services', {
      name: 'App',
      type: 'native',
      redirectUris: ['br.gov.cidade.app:/cb'],
    });
    const id = created.body.service.clientId;
    for (const [patch, field, message] of [
      [{ redirectUris: ['http://app.cidade.example/cb'] }, 'redirectUris.0', /loopback/],
      [{ type: 'confidential' }, 'type', /cannot change/],
      [{ tokenEndpointAuthMethod: 'client_secret_post' }, 'tokenEndpointAuthMethod', /cannot keep a secret/],
    ] as [Json, string, RegExp][]) {
      const res = await admin('PATCH', `/admin/api/services/${id}`, patch);
      assert.equal(res.status, 400, JSON.stringify(patch));
      assert.match(
        res.body.details.find((d: Json) => d.field === field)?.message ?? '',
        message,
        JSON.stringify(res.body),
      );
    }
    const same = await admin('PATCH', `/admin/api/services/${id}`, { type: 'native', name: 'App da cidade' });
    assert.equal(same.status, 200);
    const rotate = await admin('POST', `/admin/api/services/${id}/rotate-secret`, {});
    assert.equal(rotate.status, 400);
    assert.equal(rotate.body.error, 'service.public_no_secret');
    const kept = (await admin('GET', `/admin/api/services/${id}`)).body.service;
    assert.deepEqual(
      [kept.type, kept.tokenEndpointAuthMethod, kept.redirectUris],
      ['native', 'none', ['br.gov.cidade.app:/cb']],
    );
    const row = await app.db.db
      .selectFrom('services')
      .select('client_secret_hash')
      .where('client_id', '=', id)
      .executeTakeFirstOrThrow();
    assert.equal(row.client_secret_hash, null, 'still no secret');
  });

  test('the provider applies the same rules to a record that did not come through the store', async () => {
    // oidc-provider alone would take this one (any scheme for a native client): ours does not.
    await app.db.db
      .insertInto('services')
      .values({
        client_id: 'gravado-a-mao',
        name: 'Gravado à mão',
        client_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['cidadeapp:/cb'],
      })
      .execute();
    const start = await startSignIn('gravado-a-mao', 'cidadeapp:/cb');
    assert.equal(start.status, 400);
    assert.match(start.html, /invalid_client_metadata/);
    assert.ok(
      app.logs.some((line) => line.includes('invalid_client_metadata')),
      'the refusal is logged for the operator',
    );
  });

  test('the CLI refuses the same way and names the option typed', async () => {
    const services = createServiceStore(app.db.db, { provider: createProviderState() });
    const run = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await serviceCommand(args, services, {
        log: (l) => out.push(l),
        error: (l) => err.push(l),
      });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const bare = await run('add', '--name', 'App', '--type', 'native', '--redirect-uri', 'cidadeapp:/cb');
    assert.equal(bare.code, 1);
    assert.match(bare.err, /--redirect-uri cidadeapp:\/cb: a private-use scheme must be a domain/);
    const origin = await run(
      'add',
      '--name',
      'Portal',
      '--type',
      'spa',
      '--redirect-uri',
      'https://portal.cidade.example/cb',
      '--allowed-origin',
      'https://portal.cidade.example/x',
    );
    assert.equal(origin.code, 1);
    assert.match(
      origin.err,
      /--allowed-origin https:\/\/portal\.cidade\.example\/x: must be an origin alone/,
    );
    const ok = await run(
      'add',
      '--name',
      'App',
      '--type',
      'native',
      '--redirect-uri',
      'br.gov.cidade.cli:/cb',
      '--dpop',
      '--json',
    );
    assert.equal(ok.code, 0, ok.err);
    const shown = JSON.parse(ok.out);
    assert.equal(shown.clientSecret, null);
    assert.equal(shown.service.type, 'native');
    assert.equal(shown.service.dpopBoundAccessTokens, true);
    const off = await run('update', shown.service.clientId, '--no-dpop', '--json');
    assert.equal(off.code, 0, off.err);
    assert.equal(JSON.parse(off.out).service.dpopBoundAccessTokens, false);
  });
});
