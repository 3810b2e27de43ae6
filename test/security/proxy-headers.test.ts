import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, type TestService } from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { rawRequest, tryPassword } from './attacker.ts';

/**
 * Security review, finding 6: `X-Forwarded-Host` rewrote the discovery document (the provider
 * trusted proxy headers even with TRUST_PROXY=false), so a shared cache in front could serve
 * every service an attacker's token endpoint. Endpoints always derive from PUBLIC_URL.
 */
const FORGED = {
  host: 'evil.example',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'https',
  'x-forwarded-port': '8443',
  'x-forwarded-prefix': '/evil',
  forwarded: 'for=203.0.113.9;host=evil.example;proto=https',
};

/** Every string in a JSON document that looks like an address. */
function addresses(value: unknown): string[] {
  if (typeof value === 'string') return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap(addresses);
  if (value && typeof value === 'object') return Object.values(value).flatMap(addresses);
  return [];
}

for (const trustProxy of ['false', 'true'] as const) {
  describe(`finding 6: forged proxy headers change nothing (TRUST_PROXY=${trustProxy})`, () => {
    let app: TestApp;
    let svc: TestService;

    before(async () => {
      app = await startTestApp({ TRUST_PROXY: trustProxy, DEMO: 'off' });
      svc = await addService(app);
    });

    after(async () => {
      await app?.stop();
    });

    test('discovery: every endpoint derives from PUBLIC_URL, whatever Host and X-Forwarded-* say', async () => {
      const variants: Record<string, string>[] = [
        FORGED,
        { 'x-forwarded-host': 'evil.example' },
        { host: 'evil.example:3000' },
        { 'x-forwarded-proto': 'https' },
      ];
      for (const headers of variants) {
        const res = await rawRequest(app.url, '/.well-known/openid-configuration', { headers });
        assert.equal(res.status, 200);
        const doc = JSON.parse(res.body);
        assert.equal(doc.issuer, app.url);
        const found = addresses(doc);
        assert.ok(found.length >= 6, 'the document lists its endpoints');
        for (const address of found)
          assert.ok(
            address === app.url || address.startsWith(`${app.url}/`),
            `${JSON.stringify(headers)} → ${address}`,
          );
      }
    });

    test('discovery has a Cache-Control that a shared cache can honour', async () => {
      const res = await rawRequest(app.url, '/.well-known/openid-configuration', { headers: FORGED });
      const cacheControl = String(res.headers['cache-control'] ?? '');
      assert.match(cacheControl, /max-age=\d+/, `cache-control: ${cacheControl}`);
    });

    test('redirects from the provider stay on PUBLIC_URL', async () => {
      const url = new URL('/oidc/auth', app.url);
      url.search = new URLSearchParams({
        client_id: svc.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: svc.redirectUri,
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
      }).toString();
      const res = await rawRequest(app.url, `${url.pathname}${url.search}`, { headers: FORGED });
      assert.equal(res.status, 303);
      const location = String(res.headers.location);
      assert.doesNotMatch(location, /evil/);
      assert.ok(new URL(location, app.url).href.startsWith(`${app.url}/interaction/`), location);
    });

    test(`X-Forwarded-For ${trustProxy === 'true' ? 'is' : 'is not'} taken as the client's address`, async () => {
      const owner = await seedCitizen(app.db.db);
      const statuses: number[] = [];
      // Four wrong passwords, each claiming another address.
      for (let n = 1; n <= 4; n++)
        statuses.push((await tryPassword(svc, `198.51.100.${n}`, owner.email, `wrong ${n}`)).status);
      if (trustProxy === 'true')
        assert.deepEqual(statuses, [401, 401, 401, 401], 'four addresses, one failure each');
      else
        assert.deepEqual(
          statuses,
          [401, 401, 401, 429],
          'one address (the socket), whatever the header says',
        );
    });
  });
}
