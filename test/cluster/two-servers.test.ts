import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { createConsentStore } from '../../src/consent/consent-store.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { answerConsent, authorizationRequest, exchange, type TestService } from '../helpers/journeys.ts';
import { childEnv, killChildren, type ServerProcess, startServerProcess } from '../helpers/processes.ts';
import { freePort, TEST_ADMIN_TOKEN } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase, usingPostgres } from '../helpers/test-database.ts';
import { formAction, UserAgent } from '../helpers/user-agent.ts';

/**
 * Two copies of the server on one PostgreSQL database, as behind a load balancer: same SECRET_KEY,
 * same PUBLIC_URL (the issuer), different ports. The test is the load balancer: it sends each
 * request to the copy it chooses by rewriting the address, with one cookie jar for both (browsers
 * do not separate cookies by port either).
 */

const inCi = process.env.CI === 'true';
const skip = !usingPostgres && !inCi ? 'needs PostgreSQL: set DATABASE_URL (CI always runs it, and fails without one)' : false;

/** A user agent whose requests go to the copy named by `target`, whatever address a page or redirect gave. */
class BalancedUserAgent extends UserAgent {
  target: string;
  readonly origins: string[];
  readonly served: string[] = [];

  constructor(origins: string[], target: string) {
    super();
    this.origins = origins;
    this.target = target;
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url);
    if (this.origins.includes(u.origin)) url = `${this.target}${u.pathname}${u.search}`;
    this.served.push(`${this.target} ${u.pathname}`);
    return super.request(url, init);
  }
}

describe('two server processes on one PostgreSQL database', { skip }, () => {
  let database: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  let issuer: string;
  let env: (port: number) => Record<string, string>;

  before(async () => {
    if (!usingPostgres) throw new Error('CI=true but DATABASE_URL is not set: the cluster test needs PostgreSQL');
    database = await createTestDatabase();
    const [portA, portB] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${portA}`;
    env = (port: number) =>
      childEnv({ DATABASE_URL: database.url!, PUBLIC_URL: issuer, PORT: String(port), ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: 'info' });
    // Both start at once on a new database: migrations, first signing keys and seeded services race.
    [a, b] = await Promise.all([startServerProcess(env(portA)), startServerProcess(env(portB))]);
  });

  after(async () => {
    await killChildren();
    await database?.drop();
  });

  /** openid-client as a service would use it, every request of it sent to one copy. */
  async function rp(svc: { clientId: string; clientSecret: string; redirectUri: string }, via: ServerProcess): Promise<TestService> {
    const route: typeof fetch = (input, init) => {
      const u = new URL(input instanceof Request ? input.url : String(input));
      return fetch(`${via.url}${u.pathname}${u.search}`, init);
    };
    const config = await client.discovery(new URL(issuer), svc.clientId, svc.clientSecret, undefined, {
      execute: [client.allowInsecureRequests],
      [client.customFetch]: route as client.CustomFetch,
    });
    return { ...svc, config };
  }

  async function newService(name: string) {
    const redirectUri = `http://127.0.0.1:9/${name}/cb`;
    const { service, clientSecret } = await createServiceStore(database.db, { provider: createProviderState() }).add({
      name,
      redirectUris: [redirectUri],
      termsMarkdown: `# Termos de ${name}`,
      fields: [
        { key: 'name', required: true, purpose: 'para identificar você' },
        { key: 'email', required: true, purpose: 'para enviar avisos' },
      ],
    });
    return { clientId: service.clientId, clientSecret: clientSecret!, redirectUri };
  }

  test('both copies started on the new database and publish the same issuer and keys', async () => {
    for (const server of [a, b]) {
      const meta = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json();
      assert.equal(meta.issuer, issuer);
    }
    const [jwksA, jwksB] = await Promise.all([a, b].map(async (s) => (await fetch(`${s.url}/oidc/jwks`)).json()));
    assert.ok(jwksA.keys.length > 0);
    assert.deepEqual(jwksB, jwksA);
    const keys = await database.db.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).execute();
    assert.equal(keys.length, 2, 'one ES256 and one RS256 key, not one pair per copy');
  });

  test('log in at A, single sign-on at B, code at B, refresh at A, userinfo at B, logout at B ends it at A', async () => {
    const citizen = await seedCitizen(database.db);
    const first = await newService('matricula');
    const second = await newService('saude');
    const ua = new BalancedUserAgent([a.url, b.url], a.url);

    // At A: password, then the first service's consent.
    const auth1 = await authorizationRequest(await rp(first, a));
    const login = await ua.get(auth1.url.href, first.redirectUri);
    assert.match(login.html, /name="password"/);
    const consent1 = await ua.post(formAction(login, '/login'), { identifier: citizen.email, password: citizen.password }, first.redirectUri);
    const callback1 = await answerConsent(ua, consent1, await rp(first, a));
    assert.ok(callback1.url.startsWith(first.redirectUri), callback1.url);
    const tokens1 = await exchange(await rp(first, a), auth1, callback1.url);
    const sub = tokens1.claims()!.sub;

    // At B: no password (the session made at A), only the second service's own consent.
    ua.target = b.url;
    const atB = ua.served.length;
    const secondAtB = await rp(second, b);
    const auth2 = await authorizationRequest(secondAtB);
    const consent2 = await ua.get(auth2.url.href, second.redirectUri);
    assert.doesNotMatch(consent2.html, /name="password"/, 'B does not ask for the password again');
    assert.match(consent2.html, /name="decision"/);
    const callback2 = await answerConsent(ua, consent2, secondAtB);
    assert.ok(callback2.url.startsWith(second.redirectUri), callback2.url);
    assert.ok(ua.served.slice(atB).every((line) => line.startsWith(b.url)), 'every step of it went to B');

    const tokens2 = await exchange(secondAtB, auth2, callback2.url);
    assert.equal(tokens2.claims()!.sub, sub);
    assert.equal(tokens2.claims()!.iss, issuer);
    assert.ok(tokens2.refresh_token);

    const refreshed = await client.refreshTokenGrant((await rp(second, a)).config, tokens2.refresh_token!);
    assert.ok(refreshed.access_token && refreshed.access_token !== tokens2.access_token);
    const info = await client.fetchUserInfo(secondAtB.config, refreshed.access_token, sub);
    assert.equal(info.email, citizen.email);
    assert.equal(info.name, citizen.name);
    // The refresh token rotated at A is spent at B too (and its replay revokes what the grant issued).
    await assert.rejects(client.refreshTokenGrant(secondAtB.config, tokens2.refresh_token!), (e: { error?: string }) => e.error === 'invalid_grant');

    // Each copy did its part (its own request log says so).
    for (const [server, path] of [
      [a, '/interaction/'],
      [a, '/oidc/token'],
      [b, '/oidc/auth'],
      [b, '/oidc/token'],
      [b, '/oidc/me'],
    ] as const) {
      assert.ok(server.output().includes(`"path":"${path}`), `${server === a ? 'A' : 'B'} served ${path}`);
    }

    // Logout at B ends the session everywhere: A asks for the password again.
    const end = client.buildEndSessionUrl(secondAtB.config, { id_token_hint: tokens2.id_token! });
    const confirm = await ua.get(end.href);
    const xsrf = confirm.html.match(/name="xsrf" value="([^"]+)"/)?.[1];
    assert.ok(xsrf, `a logout confirmation page: ${confirm.html.slice(0, 500)}`);
    const action = confirm.html.match(/<form[^>]*action="([^"]+)"/)![1]!;
    await ua.post(new URL(action, confirm.url).href, { xsrf, logout: 'yes' }, undefined, { csrf: false });
    ua.target = a.url;
    const again = await ua.get((await authorizationRequest(await rp(first, a))).url.href, first.redirectUri);
    assert.match(again.html, /name="password"/, 'the session ended at B is gone at A');
  });

  test('a data change shows in the next userinfo at either copy, a restarted copy keeps the session, a revocation stops the tokens at once on both', async () => {
    const citizen = await seedCitizen(database.db);
    const svc = await newService('transporte');
    const ua = new BalancedUserAgent([a.url, b.url], a.url);
    const auth = await authorizationRequest(await rp(svc, a));
    const login = await ua.get(auth.url.href, svc.redirectUri);
    const consent = await ua.post(formAction(login, '/login'), { identifier: citizen.email, password: citizen.password }, svc.redirectUri);
    const callback = await answerConsent(ua, consent, await rp(svc, a));
    const tokens = await exchange(await rp(svc, a), auth, callback.url);
    const sub = tokens.claims()!.sub;

    // The citizen's data changes (as the account page writes it): the very next userinfo shows it, at both copies.
    await database.db.updateTable('citizens').set({ name: 'Nome Trocado Agora' }).where('id', '=', sub).execute();
    for (const via of [b, a]) {
      const info = await client.fetchUserInfo((await rp(svc, via)).config, tokens.access_token, sub);
      assert.equal(info.name, 'Nome Trocado Agora', `userinfo at ${via === a ? 'A' : 'B'}`);
    }

    // B restarts: the session made at A still signs in at the new B, without a password.
    await b.stop();
    b = await startServerProcess(env(b.port));
    ua.target = b.url;
    const sso = await authorizationRequest(await rp(svc, b));
    const back = await ua.get(sso.url.href, svc.redirectUri);
    assert.ok(back.url.startsWith(svc.redirectUri), `single sign-on at the restarted copy: ${back.url}`);
    const again = await exchange(await rp(svc, b), sso, back.url);
    assert.equal(again.claims()!.sub, sub);

    // The citizen revokes the service's consent (on any copy: the database is shared): at once,
    // neither copy answers userinfo with the tokens, nor refreshes them.
    await database.db.transaction().execute((trx) =>
      createConsentStore(database.db, { provider: createProviderState() }).revoke(trx, {
        citizenId: sub,
        clientId: svc.clientId,
        context: { ip: null, userAgent: null, acr: null, amr: null },
      }),
    );
    for (const via of [a, b]) {
      for (const token of [tokens.access_token, again.access_token]) {
        const res = await fetch(`${via.url}/oidc/me`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 401, `userinfo at ${via === a ? 'A' : 'B'} after the revocation`);
      }
      await assert.rejects(client.refreshTokenGrant((await rp(svc, via)).config, again.refresh_token!), (e: { error?: string }) => e.error === 'invalid_grant');
    }
  });
});
