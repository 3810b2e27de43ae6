import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import {
  type Authorization,
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
type Tokens = Awaited<ReturnType<typeof exchange>>;

/**
 * Mobile apps (RFC 8252) and browser apps registered as services: public clients with no secret,
 * driven by openid-client as an app would drive it (client.None(): no client authentication).
 */
describe('mobile and browser apps as services (public clients)', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  const ua = new UserAgent();
  let counter = 0;

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url, DEMO: 'off' });
  });
  after(async () => {
    await app?.stop();
    await smtp?.close();
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

  const contract = (extra: Json) => ({
    name: `Aplicativo de teste ${++counter}`,
    termsMarkdown: '# Termos\n\nUse com cuidado.',
    fields: [
      { key: 'name', required: true, purpose: 'para identificar você' },
      { key: 'email', required: true, purpose: 'para enviar avisos' },
      { key: 'cpf', required: true, purpose: 'para cruzar com o cadastro municipal' },
    ],
    ...extra,
  });

  /** Registers an app through the admin API, then discovers it as the app would: no secret at all. */
  async function registerApp(
    input: Json,
    redirectUri = (input.redirectUris as string[])[0]!,
  ): Promise<TestService & { service: Json }> {
    const res = await admin('POST', '/admin/api/services', contract(input));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.clientSecret, null, 'no secret is made for an app');
    const service = res.body.service;
    const config = await client.discovery(new URL(app.url), service.clientId, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    return { clientId: service.clientId, clientSecret: '', redirectUri, config, service };
  }

  /** Through the signed-in browser: consent when asked; returns where the provider sends the code. */
  async function signInAt(
    svc: TestService,
    extra: Record<string, string> = {},
  ): Promise<{ auth: Authorization; callback: string; consent?: string }> {
    const auth = await authorizationRequest(svc, extra);
    const page = await ua.get(auth.url.href, svc.redirectUri);
    if (page.status === 303) return { auth, callback: page.url };
    const done = await answerConsent(ua, page, svc);
    return { auth, callback: done.url, consent: page.html };
  }

  const rejectsWith = (error: string) => (e: { error?: string; code?: string }) => e.error === error;

  let native: TestService & { service: Json };
  let nativeTokens: Tokens;

  test('discovery advertises client authentication none and DPoP', async () => {
    const m = (
      await client.discovery(new URL(app.url), 'x', undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      })
    ).serverMetadata();
    assert.ok(m.token_endpoint_auth_methods_supported?.includes('none'));
    assert.ok(
      m.dpop_signing_alg_values_supported?.includes('ES256'),
      JSON.stringify(m.dpop_signing_alg_values_supported),
    );
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
  });

  test('a mobile app on a private-use scheme: no secret, PKCE, the code comes back to br.gov.cidade.app:/cb', async () => {
    native = await registerApp({ type: 'native', redirectUris: ['br.gov.cidade.app:/cb'] });
    assert.equal(native.service.type, 'native');
    assert.equal(native.service.tokenEndpointAuthMethod, 'none');
    const auth = await authorizationRequest(native);
    const { page } = await registerThroughService(ua, native, auth, smtp);
    assert.match(page.html, /é um aplicativo para celular/, 'the consent page names the kind of client');
    const callback = await answerConsent(ua, page, native);
    // The provider's Location header, as the app's browser tab would hand it to the app.
    assert.match(callback.url, /^br\.gov\.cidade\.app:\/cb\?code=[^&]+&state=/);
    nativeTokens = await exchange(native, auth, callback.url);
    assert.equal(nativeTokens.claims()!.aud, native.clientId);
    assert.ok(nativeTokens.refresh_token, 'an app gets a refresh token');
    const info = await client.fetchUserInfo(
      native.config,
      nativeTokens.access_token,
      nativeTokens.claims()!.sub,
    );
    assert.ok(info.cpf);
    const account = await ua.get(`${app.url}/conta/servicos`);
    const item = account.html.split('<li class="data-item">').find((li) => li.includes(native.service.name));
    assert.ok(item, 'the app is among the services on /conta');
    assert.match(
      item,
      /<span class="tag">aplicativo para celular<\/span>/,
      '/conta names the kind of client',
    );
  });

  test('a desktop app on a loopback redirect: any port it picks, only the registered path', async () => {
    // The app listens on a port the system gives it, as AppAuth and RFC 8252 §7.3 do.
    const received: string[] = [];
    const listener: Server = createServer((req, res) => {
      received.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    try {
      const port = (listener.address() as { port: number }).port;
      const desktop = await registerApp(
        { type: 'native', redirectUris: ['http://127.0.0.1/callback'] },
        `http://127.0.0.1:${port}/callback`,
      );
      const { auth, callback } = await signInAt(desktop);
      assert.ok(callback.startsWith(`http://127.0.0.1:${port}/callback?`), callback);
      await (await fetch(callback)).text();
      assert.equal(received.length, 1, "the code reached the app's loopback listener");
      const tokens = await exchange(desktop, auth, new URL(received[0]!, `http://127.0.0.1:${port}`).href);
      assert.equal(tokens.claims()!.aud, desktop.clientId);

      // Another path on the same loopback port is not registered: the provider stops there.
      const other = await authorizationRequest({ ...desktop, redirectUri: `http://127.0.0.1:${port}/other` });
      const refused = await ua.get(other.url.href, `http://127.0.0.1:${port}`);
      assert.equal(refused.status, 400);
      assert.match(refused.html, /endereço de retorno pedido pelo serviço não está cadastrado/);
      assert.equal(received.length, 1, 'nothing more reached the listener');
    } finally {
      listener.close();
    }
  });

  test('refresh for a public client rotates on every use; reusing a rotated token revokes the grant', async () => {
    const first = nativeTokens.refresh_token!;
    const second = await client.refreshTokenGrant(native.config, first);
    assert.ok(second.refresh_token && second.refresh_token !== first);
    const third = await client.refreshTokenGrant(native.config, second.refresh_token);
    assert.ok(third.refresh_token && third.refresh_token !== second.refresh_token, 'every use rotates');
    const sub = nativeTokens.claims()!.sub;
    assert.ok(await client.fetchUserInfo(native.config, third.access_token, sub));

    // Someone replays a token the app already used: it leaked, so the whole grant goes.
    await assert.rejects(
      client.refreshTokenGrant(native.config, second.refresh_token),
      rejectsWith('invalid_grant'),
    );
    await assert.rejects(
      client.refreshTokenGrant(native.config, third.refresh_token!),
      rejectsWith('invalid_grant'),
    );
    await assert.rejects(
      client.fetchUserInfo(native.config, third.access_token, sub),
      (e: { status?: number }) => e.status === 401,
    );
  });

  test('DPoP: tokens bound to the app key are refused without a proof of that key', async () => {
    const key = await client.randomDPoPKeyPair('ES256');
    const dpop = client.getDPoPHandle(native.config, key);
    const { auth, callback } = await signInAt(native);
    const tokens = await client.authorizationCodeGrant(
      native.config,
      new URL(callback),
      {
        pkceCodeVerifier: auth.verifier,
        expectedState: auth.state,
        expectedNonce: auth.nonce,
        idTokenExpected: true,
      },
      undefined,
      { DPoP: dpop },
    );
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    const sub = tokens.claims()!.sub;
    assert.equal(
      (await client.fetchUserInfo(native.config, tokens.access_token, sub, { DPoP: dpop })).sub,
      sub,
    );

    // The access token alone, as a bearer token or under the DPoP scheme with no proof.
    const bearer = await fetch(`${app.url}/oidc/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    assert.equal(bearer.status, 401);
    assert.equal((await bearer.json()).error, 'invalid_token');
    const noProof = await fetch(`${app.url}/oidc/me`, {
      headers: { authorization: `DPoP ${tokens.access_token}` },
    });
    assert.equal(noProof.status, 400);
    assert.deepEqual(await noProof.json(), {
      error: 'invalid_request',
      error_description: '`DPoP` header not provided',
    });
    const writeBack = await fetch(`${app.url}/api/v1/me`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Outro Nome' }),
    });
    assert.equal(writeBack.status, 401);
    assert.equal((await writeBack.json()).error, 'invalid_token');

    // The refresh token is bound to the same key: without a proof, or with another key, it is refused.
    await assert.rejects(
      client.refreshTokenGrant(native.config, tokens.refresh_token!),
      rejectsWith('invalid_grant'),
    );
    const thief = client.getDPoPHandle(native.config, await client.randomDPoPKeyPair('ES256'));
    await assert.rejects(
      client.refreshTokenGrant(native.config, tokens.refresh_token!, undefined, { DPoP: thief }),
      rejectsWith('invalid_grant'),
    );
    const refreshed = await client.refreshTokenGrant(native.config, tokens.refresh_token!, undefined, {
      DPoP: dpop,
    });
    assert.equal(refreshed.token_type.toLowerCase(), 'dpop');
  });

  test('a service registered with dpop_bound_access_tokens gets no token without a proof', async () => {
    const bound = await registerApp({
      type: 'native',
      redirectUris: ['br.gov.cidade.vinculado:/cb'],
      dpopBoundAccessTokens: true,
    });
    assert.equal(bound.service.dpopBoundAccessTokens, true);
    const { auth, callback } = await signInAt(bound);
    await assert.rejects(exchange(bound, auth, callback), rejectsWith('invalid_grant'));
    const again = await signInAt(bound);
    const dpop = client.getDPoPHandle(bound.config, await client.randomDPoPKeyPair('ES256'));
    const tokens = await client.authorizationCodeGrant(
      bound.config,
      new URL(again.callback),
      {
        pkceCodeVerifier: again.auth.verifier,
        expectedState: again.auth.state,
        expectedNonce: again.auth.nonce,
      },
      undefined,
      { DPoP: dpop },
    );
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
  });

  test('a browser app: a token request from an allowed origin passes CORS, from another origin it does not', async () => {
    const spa = await registerApp({ type: 'spa', redirectUris: ['https://portal.cidade.example/entrar'] });
    assert.deepEqual(
      spa.service.allowedOrigins,
      ['https://portal.cidade.example'],
      'by default the origin of the redirect URIs',
    );
    const first = await signInAt(spa);
    assert.match(first.consent ?? '', /é um aplicativo no navegador/);

    /** openid-client's requests as the browser would send them from a page at `origin`. */
    async function fromOrigin(origin: string) {
      const seen: Headers[] = [];
      const config = await client.discovery(new URL(app.url), spa.clientId, undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
      config[client.customFetch] = async (url, options) => {
        const headers = new Headers(options.headers as HeadersInit);
        headers.set('origin', origin);
        const res = await fetch(url, { ...(options as RequestInit), headers });
        seen.push(res.headers);
        return res;
      };
      return { svc: { ...spa, config }, seen };
    }

    const allowed = await fromOrigin('https://portal.cidade.example');
    const preflight = await fetch(`${app.url}/oidc/token`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://portal.cidade.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'dpop',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://portal.cidade.example');
    const tokens = await exchange(allowed.svc, first.auth, first.callback);
    assert.ok(tokens.access_token);
    assert.equal(allowed.seen.at(-1)?.get('access-control-allow-origin'), 'https://portal.cidade.example');

    const second = await signInAt(spa);
    const other = await fromOrigin('https://outro.example');
    await assert.rejects(
      exchange(other.svc, second.auth, second.callback),
      (e: { error?: string; error_description?: string }) => {
        return e.error === 'invalid_request' && /origin/.test(e.error_description ?? '');
      },
    );
    assert.equal(
      other.seen.at(-1)?.get('access-control-allow-origin'),
      null,
      'no CORS header: the browser hides the answer',
    );

    // Its refresh tokens live a day from the sign-in, and rotating them does not extend that.
    type Stored = { jti: string; clientId: string; exp: number; iiat: number; iat: number };
    const stored = async (clientId: string) =>
      (
        await app.db.db
          .selectFrom('oidc_payloads')
          .select('payload')
          .where('model', '=', 'RefreshToken')
          .execute()
      )
        .map((r) => r.payload as Stored)
        .filter((p) => p.clientId === clientId);
    const issued = await stored(spa.clientId);
    assert.ok(
      issued.length >= 1 && issued.every((p) => p.exp - p.iiat <= 24 * 60 * 60 + 1),
      JSON.stringify(issued),
    );
    const rotated = await client.refreshTokenGrant(spa.config, tokens.refresh_token!);
    const fresh = (await stored(spa.clientId)).find((p) => !issued.some((b) => b.jti === p.jti));
    assert.ok(rotated.refresh_token && fresh, 'a rotated token was stored');
    const chainStart = issued.find((p) => p.iiat === fresh.iiat);
    assert.ok(chainStart, 'the rotated token keeps the first issue time');
    assert.ok(
      Math.abs(fresh.exp - chainStart.exp) <= 1,
      `rotation does not extend the lifetime (${fresh.exp} vs ${chainStart.exp})`,
    );
    const mobile = await stored(native.clientId);
    assert.ok(
      mobile.length > 0 && mobile.every((p) => p.exp - p.iat > 24 * 60 * 60),
      'a mobile app keeps the longer lifetime',
    );
  });

  test('a public client cannot present a secret or use client_credentials, and must send PKCE S256', async () => {
    const token = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${app.url}/oidc/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));
    const codeGrant = {
      grant_type: 'authorization_code',
      code: 'x',
      redirect_uri: native.redirectUri,
      code_verifier: 'y'.repeat(43),
    };
    const basic = `Basic ${Buffer.from(`${native.clientId}:a-secret-it-does-not-have`).toString('base64')}`;
    for (const res of [
      await token(codeGrant, { authorization: basic }),
      await token({ ...codeGrant, client_id: native.clientId, client_secret: 'a-secret-it-does-not-have' }),
    ]) {
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_client');
      assert.match(res.body.error_description, /authentication/);
    }
    const credentials = await token({ grant_type: 'client_credentials', client_id: native.clientId });
    assert.equal(credentials.status, 400);
    assert.equal(credentials.body.error, 'unsupported_grant_type');

    // Without PKCE, or with the plain method, the app gets the error at its own redirect URI.
    for (const params of [
      { code_challenge: '', code_challenge_method: '' },
      { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' },
    ]) {
      const url = new URL(`${app.url}/oidc/auth`);
      url.search = new URLSearchParams({
        client_id: native.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: native.redirectUri,
        state: 'st',
        ...params,
      }).toString();
      for (const [k, v] of [...url.searchParams]) if (!v) url.searchParams.delete(k);
      const res = await ua.get(url.href, native.redirectUri);
      assert.equal(res.status, 303, JSON.stringify(params));
      const back = new URL(res.url);
      assert.equal(back.searchParams.get('error'), 'invalid_request', res.url);
      assert.match(back.searchParams.get('error_description') ?? '', /PKCE|code_challenge/);
    }
  });
});
