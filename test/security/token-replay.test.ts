import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { createAdapterClass } from '../../src/oidc/adapter.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import {
  addService,
  answerConsent,
  type Authorization,
  authorizationRequest,
  exchange,
  loginThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/**
 * Security review, finding 5: single use was not single under concurrency. Eight parallel refreshes
 * with one refresh token all succeeded, and a code could be redeemed twice in parallel. With the
 * replays that held up (sequential code and refresh replay, PKCE downgrade) kept as tests.
 */
describe('finding 5: codes and refresh tokens are single use, one at a time or in parallel', () => {
  let app: TestApp;
  let svc: TestService;
  let other: TestService;
  let citizen: Awaited<ReturnType<typeof seedCitizen>>;

  before(async () => {
    app = await startTestApp({ DEMO: 'off' });
    svc = await addService(app);
    other = await addService(app);
    citizen = await seedCitizen(app.db.db);
  });

  after(async () => {
    await app?.stop();
  });

  /** A new browser signs in and is sent back with a code (a new session, so a new grant). */
  async function codeCallback(
    extra: Record<string, string> = {},
  ): Promise<{ auth: Authorization; callback: string }> {
    const ua = new UserAgent();
    const auth = await authorizationRequest(svc, extra);
    let page = await loginThroughService(ua, svc, auth, citizen.email, citizen.password);
    if (page.status === 200) page = await answerConsent(ua, page, svc);
    assert.equal(page.status, 303, `back at the service: ${page.html.slice(0, 500)}`);
    return { auth, callback: page.url };
  }

  const isInvalidGrant = (e: unknown) => (e as { error?: string }).error === 'invalid_grant';
  const active = async (token: string) => (await client.tokenIntrospection(svc.config, token)).active;

  test('eight parallel refreshes with one refresh token: exactly one succeeds, and the grant is revoked', async () => {
    const { auth, callback } = await codeCallback();
    const tokens = await exchange(svc, auth, callback);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => client.refreshTokenGrant(svc.config, tokens.refresh_token!)),
    );
    const won = results
      .filter((r) => r.status === 'fulfilled')
      .map((r) => (r as PromiseFulfilledResult<client.TokenEndpointResponse>).value);
    const lost = results
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason);
    assert.equal(won.length, 1, `${won.length} of 8 parallel refreshes succeeded`);
    assert.ok(
      lost.every(isInvalidGrant),
      `the others are invalid_grant: ${lost.map((e) => e.error ?? e.message).join(', ')}`,
    );
    // The reuse means the token leaked: nothing issued from the grant works any more.
    assert.equal(await active(won[0]!.access_token), false, "the winner's access token is revoked");
    await assert.rejects(client.refreshTokenGrant(svc.config, won[0]!.refresh_token!), isInvalidGrant);
    assert.equal(await active(tokens.access_token), false);
  });

  test('a code redeemed twice in parallel gives one token set, which is then revoked', async () => {
    const { auth, callback } = await codeCallback();
    const results = await Promise.allSettled([exchange(svc, auth, callback), exchange(svc, auth, callback)]);
    const won = results
      .filter((r) => r.status === 'fulfilled')
      .map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof exchange>>>).value);
    const lost = results
      .filter((r) => r.status === 'rejected')
      .map((r) => (r as PromiseRejectedResult).reason);
    assert.equal(won.length, 1, `${won.length} of 2 parallel redemptions succeeded`);
    assert.ok(lost.every(isInvalidGrant));
    assert.equal(await active(won[0]!.access_token), false, 'the tokens of the code are revoked');
    await assert.rejects(client.refreshTokenGrant(svc.config, won[0]!.refresh_token!), isInvalidGrant);
  });

  test('the storage consumes once: of two parallel consumers one wins, the other is a reuse and the grant goes', async () => {
    // The same race without HTTP in between, so that it shows on PGlite too, which runs one
    // statement at a time and rarely lets two token requests interleave between read and consume.
    const Adapter = createAdapterClass(app.db.db, async () => undefined);
    const [codes, grants, accessTokens] = [
      new Adapter('AuthorizationCode'),
      new Adapter('Grant'),
      new Adapter('AccessToken'),
    ];
    const grantId = `grant-${Date.now()}`;
    await grants.upsert(grantId, { jti: grantId, kind: 'Grant' }, 60);
    await codes.upsert(`code-${grantId}`, { jti: `code-${grantId}`, grantId, kind: 'AuthorizationCode' }, 60);
    await accessTokens.upsert(`at-${grantId}`, { jti: `at-${grantId}`, grantId, kind: 'AccessToken' }, 60);
    const results = await Promise.allSettled([
      codes.consume(`code-${grantId}`),
      codes.consume(`code-${grantId}`),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one consumer wins');
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    assert.ok(lost && isInvalidGrant(lost.reason), 'the other is told the code was used');
    assert.equal(await grants.find(grantId), undefined, 'the grant is revoked');
    assert.equal(await accessTokens.find(`at-${grantId}`), undefined, 'and what it issued');
  });

  test('held: a code replayed after use is refused and revokes the first exchange', async () => {
    const { auth, callback } = await codeCallback();
    const first = await exchange(svc, auth, callback);
    assert.equal(await active(first.access_token), true);
    await assert.rejects(exchange(svc, auth, callback), isInvalidGrant);
    assert.equal(await active(first.access_token), false);
  });

  test('held: a rotated refresh token replayed is refused and revokes the grant', async () => {
    const { auth, callback } = await codeCallback();
    const first = await exchange(svc, auth, callback);
    const second = await client.refreshTokenGrant(svc.config, first.refresh_token!);
    await assert.rejects(client.refreshTokenGrant(svc.config, first.refresh_token!), isInvalidGrant);
    await assert.rejects(client.refreshTokenGrant(svc.config, second.refresh_token!), isInvalidGrant);
    assert.equal(await active(second.access_token), false);
  });

  test("held: another service cannot redeem this service's code or refresh token", async () => {
    const { auth, callback } = await codeCallback();
    const code = new URL(callback).searchParams.get('code')!;
    const res = await fetch(other.config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${other.clientId}:${other.clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: svc.redirectUri,
        code_verifier: auth.verifier,
      }),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, 'invalid_grant');
    const tokens = await exchange(svc, auth, callback);
    await assert.rejects(client.refreshTokenGrant(other.config, tokens.refresh_token!), isInvalidGrant);
  });

  describe('held: PKCE cannot be downgraded', () => {
    test('the plain method is refused at the authorization endpoint', async () => {
      const verifier = client.randomPKCECodeVerifier();
      const url = new URL(svc.config.serverMetadata().authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: svc.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: svc.redirectUri,
        state: 's',
        code_challenge: verifier,
        code_challenge_method: 'plain',
      }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      const location = new URL(res.headers.get('location')!);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.equal(location.searchParams.get('code'), null);
    });

    for (const [label, verifier] of [
      ['without a code_verifier', undefined],
      ['with the wrong code_verifier', client.randomPKCECodeVerifier()],
      ['with the challenge itself as verifier', 'challenge'],
    ] as const) {
      test(`a code is not redeemed ${label}`, async () => {
        const { auth, callback } = await codeCallback();
        const code = new URL(callback).searchParams.get('code')!;
        const challenge = await client.calculatePKCECodeChallenge(auth.verifier);
        const body = new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: svc.redirectUri,
        });
        if (verifier) body.set('code_verifier', verifier === 'challenge' ? challenge : verifier);
        const res = await fetch(svc.config.serverMetadata().token_endpoint!, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${svc.clientId}:${svc.clientSecret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body,
        });
        assert.equal(res.status, 400);
        const error = (await res.json()).error;
        assert.ok(error === 'invalid_grant' || error === 'invalid_request', error);
      });
    }
  });

  test('no server error was logged', () => {
    const errors = app.logs.filter((line) => /"level":50/.test(line) || /"status":5\d\d/.test(line));
    assert.deepEqual(errors, []);
  });
});
