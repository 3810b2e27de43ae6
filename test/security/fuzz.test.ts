import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { seedCitizen } from '../helpers/citizens.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  loginThroughService,
  newCitizen,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';
import { csrfOf, formAction } from '../helpers/user-agent.ts';
import { atLoginPage, newAddress } from './attacker.ts';

/**
 * Property-based fuzz of the JSON endpoints (admin API, write-back) and of the login and
 * registration forms: random strings, any Unicode (NUL and lone surrogates included), huge and
 * empty values, wrong types, missing and repeated fields. Whatever comes in: never a 5xx, and when
 * the answer is an error, no row that matters changed. Bounded runs, loopback only; fast-check
 * prints the seed and the smallest failing input when a property fails.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 500, maxLength: 3000 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\u0000',
      'a\u0000b',
      '\ud800',
      '\u202e\u0645',
      '<script>alert(1)</script>',
      '"><img src=x onerror=alert(1)>',
      "'; drop table citizens; --",
      '../../../etc/passwd',
      '%00%2e%2e/',
      '${7*7}{{7*7}}',
      '123.456.789-09',
      'joana@example.test',
      '+5541999999999',
      '1988-02-30',
      'x'.repeat(70_000),
    ),
  },
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(hostileString, hostileString, { maxKeys: 3 }) },
);

/**
 * A body that starts valid and has some keys replaced by hostile values, some dropped and some
 * unknown ones added; or any JSON at all. Starting valid is what gets the fuzz past the first check.
 */
function hostileBody(
  valid: Record<string, unknown>,
  keys: string[] = Object.keys(valid),
): fc.Arbitrary<unknown> {
  const changed = fc.dictionary(fc.constantFrom(...keys), hostileValue, { maxKeys: 3 });
  const dropped = fc.subarray(Object.keys(valid), { maxLength: Math.min(2, Object.keys(valid).length) });
  const extra = fc.dictionary(hostileString, hostileValue, { maxKeys: 1 });
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.tuple(changed, dropped, extra).map(([c, d, e]) => {
        const body: Record<string, unknown> = { ...e, ...valid, ...c };
        for (const key of d) if (!(key in c)) delete body[key];
        return body;
      }),
    },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  );
}

/** Form fields: each value a hostile string, some fields left out, some sent twice. */
function hostileForm(valid: Record<string, string>): fc.Arbitrary<[string, string][]> {
  const names = Object.keys(valid);
  return fc
    .tuple(
      fc.dictionary(fc.constantFrom(...names), hostileString, { maxKeys: names.length }),
      fc.subarray(names),
      fc.subarray(names, { maxLength: 2 }),
    )
    .map(([changed, dropped, repeated]) => {
      const entries: [string, string][] = [];
      for (const name of names) {
        if (dropped.includes(name) && !(name in changed)) continue;
        entries.push([name, changed[name] ?? valid[name]!]);
        if (repeated.includes(name)) entries.push([name, changed[name] ?? valid[name]!]);
      }
      return entries;
    });
}

describe('fuzz: JSON endpoints and forms never answer 5xx, and an error changes nothing', () => {
  let app: TestApp;
  let svc: TestService;
  let writeToken: string;
  let sub: string;

  before(async () => {
    app = await startTestApp({ TRUST_PROXY: 'true', DEMO: 'off', RELAY: 'off' });
    svc = await addService(app, {
      fields: [
        { key: 'name', required: true, purpose: 'identificar' },
        { key: 'email', required: true, purpose: 'avisos' },
        { key: 'birthdate', required: false, purpose: 'idade' },
        { key: 'social_name', required: false, purpose: 'tratamento' },
      ],
    });
    const citizen = await seedCitizen(app.db.db);
    const ua = new UserAgent();
    const auth = await authorizationRequest(svc, { scope: 'openid profile email cidadela:write' });
    let page = await loginThroughService(ua, svc, auth, citizen.email, citizen.password);
    if (page.status === 200) page = await answerConsent(ua, page, svc);
    const tokens = await exchange(svc, auth, page.url);
    writeToken = tokens.access_token;
    sub = tokens.claims()!.sub;
  });

  after(async () => {
    await app?.stop();
  });

  /**
   * A digest per table: any changed, added or removed row changes it. The mail worker marks queued
   * messages sent in the background, so for `messages` only which rows exist counts, and for
   * `events` what they say (the relay, off here anyway, stamps them when fanned out).
   */
  const COLUMNS: Record<string, string> = {
    messages: 'id, channel, recipient, created_at',
    events: 'id, citizen_id, type, data, created_at',
  };
  async function digest(...tables: string[]): Promise<string> {
    const parts: string[] = [];
    for (const table of tables) {
      const columns = sql.raw(COLUMNS[table] ?? '*');
      const { rows } = await sql<{
        d: string | null;
      }>`select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as d
        from (select ${columns} from ${sql.table(table)}) t`.execute(app.db.db);
      parts.push(`${table}:${rows[0]?.d}`);
    }
    return parts.join(' ');
  }

  async function json(method: string, path: string, body: unknown, headers: Record<string, string>) {
    const res = await fetch(`${app.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text };
  }

  /** How often each status came back, shown with the test's result (a fuzz that only ever gets 401 tests little). */
  function tally() {
    const seen = new Map<number, number>();
    return {
      add: (status: number) => seen.set(status, (seen.get(status) ?? 0) + 1),
      toString: () =>
        [...seen]
          .sort(([a], [b]) => a - b)
          .map(([status, n]) => `${status}×${n}`)
          .join(' '),
    };
  }

  const SERVICE_KEYS = [
    'clientId',
    'name',
    'description',
    'redirectUris',
    'postLogoutRedirectUris',
    'backchannelLogoutUri',
    'tokenEndpointAuthMethod',
    'jwks',
    'termsMarkdown',
    'fields',
    'firstParty',
    'acceptsForeigners',
  ];
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  let serviceCounter = 0;
  const validService = () => ({
    name: 'Serviço do fuzz',
    redirectUris: ['https://fuzz.example/cb'],
    termsMarkdown: '# Termos',
    fields: [{ key: 'name', required: true, purpose: 'identificar' }],
    get clientId() {
      return `fuzz-${++serviceCounter}`;
    },
  });

  test('admin API, new service: any body', async (t) => {
    const statuses = tally();
    await fc.assert(
      fc.asyncProperty(hostileBody(validService(), SERVICE_KEYS), async (body) => {
        const before = await digest('services', 'service_fields', 'service_terms');
        const res = await json('POST', '/admin/api/services', body, admin);
        statuses.add(res.status);
        assert.ok(res.status < 500, `${res.status}: ${res.text.slice(0, 300)}`);
        if (res.status >= 400) {
          assert.equal(typeof JSON.parse(res.text).error, 'string', 'a JSON error with a code');
          assert.equal(
            await digest('services', 'service_fields', 'service_terms'),
            before,
            'an error changed stored services',
          );
        }
      }),
      { numRuns: RUNS },
    );
    t.diagnostic(`statuses: ${statuses}`);
  });

  test('admin API, changing a service: any body, any id', async (t) => {
    const statuses = tally();
    await fc.assert(
      fc.asyncProperty(
        hostileBody({ name: 'Serviço renomeado', description: 'Outra descrição' }, SERVICE_KEYS),
        fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: hostileString }),
        async (body, id) => {
          const before = await digest('services', 'service_fields', 'service_terms');
          // Every byte percent-encoded (encodeURIComponent throws on a lone surrogate).
          const segment = [...Buffer.from(id ?? svc.clientId, 'utf8')]
            .map((b) => `%${b.toString(16).padStart(2, '0')}`)
            .join('');
          const path = `/admin/api/services/${segment}`;
          const res = await json('PATCH', path, body, admin);
          statuses.add(res.status);
          assert.ok(res.status < 500, `${res.status}: ${res.text.slice(0, 300)}`);
          if (res.status >= 400)
            assert.equal(await digest('services', 'service_fields', 'service_terms'), before);
        },
      ),
      { numRuns: RUNS },
    );
    t.diagnostic(`statuses: ${statuses}`);
  });

  test('write-back PATCH /api/v1/me: any body, any token', async (t) => {
    const statuses = tally();
    const tables = ['citizens', 'events', 'consents'];
    await fc.assert(
      fc.asyncProperty(
        hostileBody({ name: 'Joana Nova da Silva' }, [
          'name',
          'social_name',
          'birthdate',
          'email',
          'phone_number',
          'address',
          'cpf',
          'sub',
        ]),
        fc.oneof({ weight: 5, arbitrary: fc.constant(writeToken) }, { weight: 1, arbitrary: hostileString }),
        async (body, token) => {
          const before = await digest(...tables);
          const res = await fetch(`${app.url}/api/v1/me`, {
            method: 'PATCH',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify(body),
          }).catch((error: Error) => ({ status: 0, text: async () => error.message }));
          const text = await res.text();
          statuses.add(res.status);
          // A header fetch refuses to send (a control character in the token) never reached the server.
          if (res.status === 0) return;
          assert.ok(res.status < 500, `${res.status}: ${text.slice(0, 300)}`);
          if (res.status >= 400)
            assert.equal(await digest(...tables), before, `an error (${res.status}) changed a row`);
        },
      ),
      { numRuns: RUNS },
    );
    t.diagnostic(`statuses: ${statuses}`);
    const row = await app.db.db
      .selectFrom('citizens')
      .select('status')
      .where('id', '=', sub)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'active');
  });

  test('login form: any identifier and password', async (t) => {
    const statuses = tally();
    const valid = { identifier: 'joana@example.test', password: 'girassol azul na janela 42' };
    await fc.assert(
      fc.asyncProperty(hostileForm(valid), async (fields) => {
        const before = await digest('citizens', 'consents', 'flows');
        const { ua, page } = await atLoginPage(svc, newAddress('10.95'));
        const body = new URLSearchParams([['_csrf', csrfOf(page.html)!], ...fields]);
        const res = await ua.request(formAction(page, '/login'), {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        const text = await res.text();
        statuses.add(res.status);
        assert.ok(res.status < 500, `${res.status}: ${text.slice(0, 300)}`);
        assert.ok(res.status >= 400, `a random login was accepted: ${res.status}`);
        assert.match(text, /^<!doctype html>/, 'an error page, not bare JSON');
        assert.equal(await digest('citizens', 'consents', 'flows'), before);
      }),
      { numRuns: RUNS },
    );
    t.diagnostic(`statuses: ${statuses}`);
  });

  test('registration form: any field, missing or repeated', async (t) => {
    const statuses = tally();
    const tables = ['citizens', 'flows', 'messages', 'events'];
    await fc.assert(
      fc.asyncProperty(hostileForm(newCitizen()), async (fields) => {
        const before = await digest(...tables);
        const { ua, page } = await atLoginPage(svc, newAddress('10.94'));
        const form = await ua.get(
          new URL(page.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, page.url).href,
        );
        const res = await ua.request(formAction(form, '/register'), {
          method: 'POST',
          body: new URLSearchParams([['_csrf', csrfOf(form.html)!], ...fields]),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        const text = await res.text();
        statuses.add(res.status);
        assert.ok(res.status < 500, `${res.status}: ${text.slice(0, 300)}`);
        if (res.status >= 400)
          assert.equal(await digest(...tables), before, `an error (${res.status}) changed a row`);
        else
          assert.ok(
            res.status === 303 && /confirm-email/.test(res.headers.get('location') ?? ''),
            `${res.status}`,
          );
      }),
      { numRuns: RUNS },
    );
    t.diagnostic(`statuses: ${statuses}`);
  });

  test('no server error was logged', () => {
    const errors = app.logs.filter((line) => /"level":50/.test(line) || /"status":5\d\d/.test(line));
    assert.deepEqual(errors, []);
  });
});
