import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { type Authorization, addService, answerConsent, authorizationRequest, exchange, registerThroughService, type TestService, UserAgent } from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

describe('OpenID Connect with openid-client as the relying party', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let svc: TestService;
  let backchannel: Server;
  const logoutTokens: string[] = [];

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url });
    backchannel = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        logoutTokens.push(new URLSearchParams(body).get('logout_token') ?? '');
        res.end();
      });
    });
    await new Promise<void>((r) => backchannel.listen(0, '127.0.0.1', r));
    const port = (backchannel.address() as { port: number }).port;
    svc = await addService(app, { backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel` });
  });

  after(async () => {
    await app?.stop();
    await smtp?.close();
    backchannel?.close();
  });

  test('discovery advertises code flow with PKCE S256 only, and never alg none', () => {
    const m = svc.config.serverMetadata();
    assert.equal(m.issuer, app.url);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.ok(!m.grant_types_supported?.includes('implicit'));
    assert.ok(!m.grant_types_supported?.includes('password'));
    assert.ok(m.id_token_signing_alg_values_supported?.includes('ES256'));
    assert.ok(!m.id_token_signing_alg_values_supported?.includes('none'));
    assert.ok(m.end_session_endpoint && m.introspection_endpoint && m.revocation_endpoint && m.userinfo_endpoint);
    assert.equal(m.backchannel_logout_supported, true);
  });

  let tokens: { access_token: string; refresh_token?: string; id_token?: string; claims(): client.IDToken | undefined };
  let ua: UserAgent;
  let auth: Authorization;

  test('register, confirm e-mail, consent, code + PKCE, validated ID token and userinfo', async () => {
    ua = new UserAgent();
    auth = await authorizationRequest(svc);
    const { page, citizen } = await registerThroughService(ua, svc, auth, smtp);
    // The optional birth date is shared because the citizen ticks it (opt in).
    const callback = await answerConsent(ua, page, svc, true, { share_birthdate: 'yes' });
    assert.ok(callback.url.startsWith(svc.redirectUri), `expected a redirect to the service, got ${callback.url}`);
    tokens = await exchange(svc, auth, callback.url);
    const claims = tokens.claims()!;
    assert.equal(claims.iss, app.url);
    assert.equal(claims.aud, svc.clientId);
    assert.notEqual(claims.sub, citizen.cpf.replace(/\D/g, ''));
    assert.deepEqual(claims.amr, ['pwd']);
    const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString());
    assert.equal(header.alg, 'ES256');
    const info = await client.fetchUserInfo(svc.config, tokens.access_token, claims.sub);
    assert.equal(info.name, citizen.name);
    assert.equal(info.email, citizen.email);
    assert.equal(info.email_verified, true);
    assert.equal(info.cpf, citizen.cpf);
    assert.equal(info.birthdate, citizen.birthdate);
    assert.ok(tokens.refresh_token, 'a refresh token is issued');
  });

  test('refresh tokens rotate: the new one works; the old one is then refused', async () => {
    const old = tokens.refresh_token!;
    const refreshed = await client.refreshTokenGrant(svc.config, old);
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, old);
    assert.equal((await client.tokenIntrospection(svc.config, refreshed.access_token)).active, true);
    tokens = refreshed;
  });

  test('introspection and revocation for the service', async () => {
    const fresh = await client.refreshTokenGrant(svc.config, tokens.refresh_token!);
    tokens = fresh;
    const active = await client.tokenIntrospection(svc.config, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, svc.clientId);
    await client.tokenRevocation(svc.config, tokens.access_token);
    const revoked = await client.tokenIntrospection(svc.config, tokens.access_token);
    assert.equal(revoked.active, false);
    // Revoking a token revokes what the same grant issued, its refresh token included.
    await assert.rejects(client.refreshTokenGrant(svc.config, tokens.refresh_token!), (e: { error?: string }) => e.error === 'invalid_grant');
  });

  test('replaying a rotated refresh token is refused and revokes what the grant issued', async () => {
    // Fresh tokens through SSO (the session and the grant are still there).
    const a = await authorizationRequest(svc);
    const cb = await ua.get(a.url.href, svc.redirectUri);
    assert.equal(cb.status, 303, 'no password and no consent asked again');
    const first = await exchange(svc, a, cb.url);
    const old = first.refresh_token!;
    const refreshed = await client.refreshTokenGrant(svc.config, old);
    await assert.rejects(client.refreshTokenGrant(svc.config, old), (e: { error?: string }) => e.error === 'invalid_grant');
    // Reuse of a rotated token means it leaked: everything issued from that grant stops working.
    await assert.rejects(client.refreshTokenGrant(svc.config, refreshed.refresh_token!), (e: { error?: string }) => e.error === 'invalid_grant');
    assert.equal((await client.tokenIntrospection(svc.config, refreshed.access_token)).active, false);
  });

  test('a second service signs the same citizen in without a password (SSO), after its own consent', async () => {
    const second = await addService(app);
    const a2 = await authorizationRequest(second);
    const consent = await ua.get(a2.url.href, second.redirectUri);
    assert.match(consent.html, /name="decision"/, 'the second service asks for its own consent, not the password');
    const callback = await answerConsent(ua, consent, second);
    const t2 = await exchange(second, a2, callback.url);
    assert.equal(t2.claims()!.sub, tokens.claims()?.sub ?? t2.claims()!.sub);
    // A second authorization at the second service needs neither password nor consent.
    const again = await authorizationRequest(second);
    const direct = await ua.get(again.url.href, second.redirectUri);
    assert.equal(direct.status, 303);
    assert.ok(direct.url.startsWith(second.redirectUri));
  });

  test('RP-initiated logout ends the session and delivers back-channel logout', async () => {
    // The grant at this service was revoked by the refresh replay above: consent again.
    const a = await authorizationRequest(svc);
    let cb = await ua.get(a.url.href, svc.redirectUri);
    if (cb.status === 200) cb = await answerConsent(ua, cb, svc);
    const t = await exchange(svc, a, cb.url);
    const sid = t.claims()!.sid;
    assert.ok(sid, 'ID token carries sid for back-channel logout');
    const endUrl = client.buildEndSessionUrl(svc.config, {
      id_token_hint: t.id_token!,
      post_logout_redirect_uri: `${svc.redirectUri}/after-logout`,
    });
    const confirm = await ua.get(endUrl.href, svc.redirectUri);
    assert.equal(confirm.status, 200);
    const action = confirm.html.match(/<form[^>]*action="([^"]+)"/)![1]!;
    const xsrf = confirm.html.match(/name="xsrf" value="([^"]+)"/)![1]!;
    const done = await ua.post(new URL(action, confirm.url).href, { xsrf, logout: 'yes' }, svc.redirectUri, { csrf: false });
    assert.ok(done.url.startsWith(`${svc.redirectUri}/after-logout`));
    // Bounds a hang only; the loop ends as soon as the token arrives.
    const deadline = Date.now() + 60_000;
    while (logoutTokens.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(logoutTokens.length > 0, 'back-channel logout reached the service');
    const payload = JSON.parse(Buffer.from(logoutTokens[0]!.split('.')[1]!, 'base64url').toString());
    assert.equal(payload.aud, svc.clientId);
    assert.equal(payload.sid, sid);
    // The session is gone: a new authorization asks for the password again.
    const a3 = await authorizationRequest(svc);
    const login = await ua.get(a3.url.href, svc.redirectUri);
    assert.equal(login.status, 200);
    assert.match(login.html, /name="password"/);
  });

  test('an unregistered redirect_uri shows an error page and does not redirect', async () => {
    const a = await authorizationRequest(svc, { redirect_uri: 'https://evil.example/cb' });
    const res = await fetch(a.url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    const body = await res.text();
    assert.match(body, /<html lang="pt-BR">/);
    assert.doesNotMatch(body, /evil\.example/);
  });

  test('a missing PKCE challenge is refused', async () => {
    const url = new URL(svc.config.serverMetadata().authorization_endpoint!);
    url.search = new URLSearchParams({ client_id: svc.clientId, response_type: 'code', scope: 'openid', redirect_uri: svc.redirectUri, state: 's' }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    assert.ok(location.href.startsWith(svc.redirectUri));
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
  });

  test('implicit and hybrid response types are refused', async () => {
    for (const responseType of ['id_token', 'code id_token', 'token']) {
      const url = new URL(svc.config.serverMetadata().authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: svc.clientId, response_type: responseType, scope: 'openid', redirect_uri: svc.redirectUri, nonce: 'n', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      const where = res.headers.get('location') ?? '';
      assert.ok(res.status === 400 || /error=unsupported_response_type|error=unauthorized_client|error=invalid_request/.test(where), `${responseType}: ${res.status} ${where}`);
      assert.doesNotMatch(where, /[#&?](id_token|access_token)=/);
    }
  });

  test('a request object signed with alg none is never accepted', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'oauth-authz-req+jwt' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ iss: svc.clientId, aud: app.url, client_id: svc.clientId, response_type: 'code', redirect_uri: svc.redirectUri, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' }),
    ).toString('base64url');
    const url = new URL(svc.config.serverMetadata().authorization_endpoint!);
    url.search = new URLSearchParams({ client_id: svc.clientId, response_type: 'code', scope: 'openid', request: `${header}.${payload}.` }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    const where = res.headers.get('location') ?? '';
    assert.ok(res.status === 400 || /error=/.test(where), `status ${res.status} location ${where}`);
    assert.doesNotMatch(where, /[?&]code=/);
  });

  test('code replay is refused and revokes the tokens of the first exchange', async () => {
    const a = await authorizationRequest(svc);
    const fresh = new UserAgent();
    const { page } = await registerThroughService(fresh, svc, a, smtp);
    const cb = await answerConsent(fresh, page, svc);
    const first = await exchange(svc, a, cb.url);
    assert.equal((await client.tokenIntrospection(svc.config, first.access_token)).active, true);
    await assert.rejects(exchange(svc, a, cb.url), (e: { error?: string }) => e.error === 'invalid_grant');
    assert.equal((await client.tokenIntrospection(svc.config, first.access_token)).active, false);
    await assert.rejects(client.refreshTokenGrant(svc.config, first.refresh_token!), (e: { error?: string }) => e.error === 'invalid_grant');
  });

  test('a wrong client secret is refused at the token endpoint', async () => {
    const wrong = await client.discovery(new URL(app.url), svc.clientId, 'not-the-secret', undefined, { execute: [client.allowInsecureRequests] });
    await assert.rejects(client.refreshTokenGrant(wrong, 'anything'), (e: { error?: string }) => e.error === 'invalid_client');
  });

  test('no code, token, secret or CPF appears in the logs', () => {
    const all = app.logs.join('\n');
    assert.ok(all.length > 0);
    assert.doesNotMatch(all, /code=[A-Za-z0-9_-]{20,}/);
    assert.doesNotMatch(all, new RegExp(svc.clientSecret));
    assert.doesNotMatch(all, /"(access_token|refresh_token|id_token)"\s*:\s*"ey/);
    for (const m of smtp.inbox) {
      const code = m.text.match(/\b(\d{6})\b/)?.[1];
      if (code) assert.doesNotMatch(all, new RegExp(`\\b${code}\\b.*"msg"`));
    }
  });
});
