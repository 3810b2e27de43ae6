import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ADMIN_API } from '../../src/admin/admin-api-contract.ts';
import { openDatabase } from '../../src/db/database.ts';
import { renderApiDocs } from '../../src/service-api/api-docs.ts';
import type { ApiContract, ApiOperation } from '../../src/service-api/openapi.ts';
import { SERVICE_API } from '../../src/service-api/service-api-contract.ts';
import { AMQP_TEST_URL, IN_CI, infrastructure, seedService, startTcpProxy } from '../events/event-helpers.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase, usingPostgres } from '../helpers/test-database.ts';

const DOCS = new URL('../../docs/api/', import.meta.url).pathname;
const MANAGEMENT_URL = process.env.AMQP_MANAGEMENT_TEST_URL ?? 'http://guest:guest@127.0.0.1:15672';
const CONTRACTS: ApiContract[] = [ADMIN_API, SERVICE_API];
const SURFACES = ['/admin/api/', '/api/v1/'];

/** "METHOD /path" of every route Fastify has, read from its route tree (HEAD, added for each GET, left out). */
function registeredRoutes(server: TestApp['server']): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack[depth] = m[2]!;
    const path = stack.join('');
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') routes.push(`${method} ${path}`);
  }
  return routes;
}

const key = (op: ApiOperation) => `${op.method.toUpperCase()} ${op.path}`;

describe('the OpenAPI documents are the contract: every route is in them, every documented answer is real', () => {
  const postgres = infrastructure({ postgres: true });
  const management = infrastructure({ amqpManagement: MANAGEMENT_URL });
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let real: TestDatabase | undefined;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>> | undefined;
  let closeDatabase: (() => Promise<void>) | undefined;
  let writer: TestService;
  let writerToken: string;
  let poller: TestService;
  let keyOnly: string; // a service authenticating with private_key_jwt (no secret to rotate)
  const brokerUsers: string[] = [];

  before(async () => {
    smtp = await startSmtpPeer();
    let database: TestDatabase;
    if (usingPostgres) {
      // The server reaches its database through a proxy the test can cut: a real outage, for the 503s.
      real = await createTestDatabase();
      const url = new URL(real.url!);
      proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
      url.hostname = '127.0.0.1';
      url.port = String(proxy.port);
      const handle = await openDatabase({ databaseUrl: url.href, poolSize: 5 });
      closeDatabase = () => handle.close();
      database = { ...handle, url: url.href, drop: async () => {} };
    } else {
      database = await createTestDatabase();
      closeDatabase = () => database.drop();
    }
    app = await startTestApp({ SMTP_URL: smtp.url, RELAY: 'off' }, database);
    const db = app.db.db;
    writer = await addService(app, {
      fields: [
        { key: 'name', required: true, purpose: 'para identificar você' },
        { key: 'email', required: true, purpose: 'para enviar avisos' },
        { key: 'cpf', required: true, purpose: 'para cruzar com o cadastro municipal' },
      ],
    });
    const ua = new UserAgent();
    const auth = await authorizationRequest(writer, { scope: 'openid profile email cpf cidadela:write' });
    const { page } = await registerThroughService(ua, writer, auth, smtp);
    const callback = await answerConsent(ua, page, writer);
    writerToken = (await exchange(writer, auth, callback.url)).access_token;
    poller = await addService(app);
    keyOnly = (
      await seedService(db, ['name'], {
        tokenEndpointAuthMethod: 'private_key_jwt',
        jwks: {
          keys: [
            {
              kty: 'EC',
              crv: 'P-256',
              x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
              y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
            },
          ],
        },
      })
    ).clientId;
  });

  after(async () => {
    await app?.stop();
    await closeDatabase?.();
    await proxy?.close();
    await real?.drop();
    await smtp?.close();
    for (const user of brokerUsers) {
      const base = new URL(MANAGEMENT_URL);
      const authorization = `Basic ${Buffer.from(`${base.username}:${base.password}`).toString('base64')}`;
      base.username = '';
      base.password = '';
      await fetch(`${base.href.replace(/\/$/, '')}/api/users/${encodeURIComponent(user)}`, {
        method: 'DELETE',
        headers: { authorization },
      }).catch(() => {});
    }
  });

  test('docs/api/ is what the code says (npm run docs:api writes it)', () => {
    for (const [name, content] of Object.entries(renderApiDocs())) {
      assert.equal(
        readFileSync(`${DOCS}${name}`, 'utf8'),
        content,
        `docs/api/${name} is out of date: run npm run docs:api`,
      );
    }
  });

  test('the served documents are the ones in docs/api/; every $ref in them resolves', async () => {
    for (const [path, file] of [
      ['/api/v1/openapi.json', 'service-api.openapi.json'],
      ['/admin/api/openapi.json', 'admin-api.openapi.json'],
    ] as const) {
      const res = await fetch(`${app.url}${path}`);
      assert.equal(res.status, 200, path);
      const served = await res.json();
      assert.deepEqual(served, JSON.parse(readFileSync(`${DOCS}${file}`, 'utf8')));
      assert.equal(served.openapi, '3.1.0');
      const refs = [...JSON.stringify(served).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
        (m) => m[1]!,
      );
      for (const ref of refs) assert.ok(served.components.schemas[ref], `${file}: $ref ${ref} resolves`);
    }
  });

  test('every route of the admin API and the service API is in a document, and every documented one is registered', () => {
    const registered = registeredRoutes(app.server).filter((r) =>
      SURFACES.some((s) => r.split(' ')[1]!.startsWith(s)),
    );
    const documented = CONTRACTS.flatMap((c) => c.operations.map(key));
    assert.deepEqual(
      registered.filter((r) => !documented.includes(r)),
      [],
      'routes registered but missing from the OpenAPI documents',
    );
    assert.deepEqual(
      documented.filter((d) => !registered.includes(d)),
      [],
      'documented operations that no route serves',
    );
    assert.ok(registered.length >= 15, `found ${registered.length} routes: the route tree was read`);
  });

  test('every documented answer is one the route gives, with the documented body and headers', async (t) => {
    const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      fetch(`${app.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
    const anonymous = (method: string, path: string) => fetch(`${app.url}${path}`, { method });
    const basic = (svc: TestService, secret = svc.clientSecret) =>
      `Basic ${Buffer.from(`${encodeURIComponent(svc.clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    const poll = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${app.url}/api/v1/events`, {
        method: 'POST',
        headers: { authorization: basic(poller), 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const patch = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${app.url}/api/v1/me`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${writerToken}`, 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const big = 'x'.repeat(300 * 1024);
    // A content type no route reads (Fastify itself reads JSON and text, formbody reads forms).
    const XML = 'application/xml';
    const svc = () => `/admin/api/services/${poller.clientId}`;
    let newServiceId = '';

    type Recipe = () => Promise<Response>;
    /** What each documented answer is provoked by: per operation, per status. */
    const recipes: Record<string, Record<number, Recipe>> = {
      listServices: {
        200: () => admin('GET', '/admin/api/services'),
        401: () => anonymous('GET', '/admin/api/services'),
      },
      addService: {
        201: async () => {
          const res = await admin('POST', '/admin/api/services', {
            name: 'Serviço do contrato',
            redirectUris: ['https://contrato.example.test/cb'],
          });
          newServiceId = (await res.clone().json()).service?.clientId ?? '';
          return res;
        },
        400: () =>
          admin('POST', '/admin/api/services', { name: 'Sem endereço de retorno', redirectUris: [] }),
        401: () => anonymous('POST', '/admin/api/services'),
        409: () =>
          admin('POST', '/admin/api/services', {
            clientId: poller.clientId,
            name: 'De novo',
            redirectUris: ['https://x.example.test/cb'],
          }),
        413: () =>
          admin('POST', '/admin/api/services', {
            name: 'Grande',
            redirectUris: ['https://x.example.test/cb'],
            termsMarkdown: big,
          }),
        415: () => admin('POST', '/admin/api/services', 'name=Formulario', { 'content-type': XML }),
      },
      getService: {
        200: () => admin('GET', svc()),
        401: () => anonymous('GET', svc()),
        404: () => admin('GET', '/admin/api/services/nao-existe'),
      },
      updateService: {
        200: () => admin('PATCH', svc(), { description: 'Nova descrição' }),
        400: () => admin('PATCH', svc(), { redirectUris: ['ftp://x'] }),
        401: () => anonymous('PATCH', svc()),
        403: () => admin('PATCH', '/admin/api/services/cidadela-conta', { description: 'x' }),
        404: () => admin('PATCH', '/admin/api/services/nao-existe', { description: 'x' }),
        413: () => admin('PATCH', svc(), { termsMarkdown: big }),
        415: () => admin('PATCH', svc(), 'description', { 'content-type': XML }),
      },
      removeService: {
        204: () => admin('DELETE', `/admin/api/services/${newServiceId}`),
        401: () => anonymous('DELETE', svc()),
        403: () => admin('DELETE', '/admin/api/services/cidadela-conta'),
        404: () => admin('DELETE', '/admin/api/services/nao-existe'),
      },
      listTermsVersions: {
        200: () => admin('GET', `${svc()}/terms`),
        401: () => anonymous('GET', `${svc()}/terms`),
        404: () => admin('GET', '/admin/api/services/nao-existe/terms'),
      },
      rotateServiceSecret: {
        // The writer's secret: its tests use its access token, never its secret.
        200: () => admin('POST', `/admin/api/services/${writer.clientId}/rotate-secret`),
        400: () => admin('POST', `/admin/api/services/${keyOnly}/rotate-secret`),
        401: () => anonymous('POST', `${svc()}/rotate-secret`),
        403: () => admin('POST', '/admin/api/services/cidadela-conta/rotate-secret'),
        404: () => admin('POST', '/admin/api/services/nao-existe/rotate-secret'),
      },
      getQueue: {
        200: () => admin('GET', `${svc()}/queue`),
        401: () => anonymous('GET', `${svc()}/queue`),
        404: () => admin('GET', '/admin/api/services/nao-existe/queue'),
      },
      resumeQueue: {
        200: () => admin('POST', `${svc()}/queue/resume`),
        401: () => anonymous('POST', `${svc()}/queue/resume`),
        404: () => admin('POST', '/admin/api/services/nao-existe/queue/resume'),
      },
      replayQueue: {
        200: () => admin('POST', `${svc()}/queue/replay`, { since: '2020-01-01T00:00:00Z' }),
        400: () => admin('POST', `${svc()}/queue/replay`, { since: 'semana passada' }),
        401: () => anonymous('POST', `${svc()}/queue/replay`),
        404: () =>
          admin('POST', '/admin/api/services/nao-existe/queue/replay', { since: '2020-01-01T00:00:00Z' }),
        413: () => admin('POST', `${svc()}/queue/replay`, { since: big }),
        415: () => admin('POST', `${svc()}/queue/replay`, 'since', { 'content-type': XML }),
      },
      getDelivery: {
        200: () => admin('GET', `${svc()}/delivery`),
        401: () => anonymous('GET', `${svc()}/delivery`),
        404: () => admin('GET', '/admin/api/services/nao-existe/delivery'),
      },
      setDelivery: {
        200: () => admin('PUT', `${svc()}/delivery`, { method: 'poll' }),
        400: () => admin('PUT', `${svc()}/delivery`, { method: 'push' }),
        401: () => anonymous('PUT', `${svc()}/delivery`),
        404: () => admin('PUT', '/admin/api/services/nao-existe/delivery', { method: 'poll' }),
        413: () => admin('PUT', `${svc()}/delivery`, { method: 'push', pushUrl: big }),
        415: () => admin('PUT', `${svc()}/delivery`, 'method=poll', { 'content-type': XML }),
      },
      createBrokerCredentials: {
        401: () => anonymous('POST', `${svc()}/broker-credentials`),
        404: () => admin('POST', '/admin/api/services/nao-existe/broker-credentials'),
        409: () => admin('POST', `${svc()}/broker-credentials`),
      },
      adminOpenApi: { 200: () => anonymous('GET', '/admin/api/openapi.json') },
      pollEvents: {
        200: () => poll({ returnImmediately: true }),
        400: () => poll({ maxEvents: 'all' }),
        401: () => poll({}, { authorization: basic(poller, 'wrong') }),
        413: () => poll({ ack: [big] }),
        415: () => poll('ack', { 'content-type': XML }),
      },
      writeBack: {
        200: () => patch({ name: 'Nome Pelo Contrato da Silva' }),
        400: () => patch({}),
        401: () => patch({ name: 'Sem Token da Silva' }, { authorization: '' }),
        403: () => patch({ mother_name: 'Ana Maria Souza' }),
        202: () => patch({ email: `proposto.${Date.now()}@example.test` }),
        413: () => patch({ name: big }),
        415: () => patch('name=x', { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      serviceOpenApi: { 200: () => anonymous('GET', '/api/v1/openapi.json') },
    };

    /** Answers that need a setting of their own (another server) or an outage: run after the rest. */
    const later: Record<string, Record<number, { skip: string | boolean; run: Recipe }>> = {
      createBrokerCredentials: {
        201: {
          skip: (await management).skip,
          run: async () => {
            const withManagement = await startTestApp(
              { RELAY: 'off', AMQP_URL: AMQP_TEST_URL, AMQP_MANAGEMENT_URL: MANAGEMENT_URL },
              app.db,
            );
            try {
              const res = await fetch(`${withManagement.url}${svc()}/broker-credentials`, {
                method: 'POST',
                headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
              });
              brokerUsers.push(`cidadela.${poller.clientId}`);
              return new Response(await res.text(), { status: res.status, headers: res.headers });
            } finally {
              await withManagement.close();
            }
          },
        },
      },
    };
    // Every operation that touches the database answers 503 when it cannot be reached.
    const outage: [ApiOperation, Recipe][] = [];

    const failures: string[] = [];
    async function check(op: ApiOperation, status: number, recipe: Recipe) {
      const answer = op.responses[status]!;
      const res = await recipe();
      const text = await res.text();
      if (res.status !== status) {
        failures.push(`${op.operationId} ${status}: got ${res.status} ${text.slice(0, 200)}`);
        return;
      }
      for (const [header, d] of Object.entries(answer.headers ?? {})) {
        if (d.required && !res.headers.get(header))
          failures.push(`${op.operationId} ${status}: no ${header} header`);
      }
      if (!answer.schema) return;
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        failures.push(`${op.operationId} ${status}: the body is not JSON: ${text.slice(0, 200)}`);
        return;
      }
      const parsed = answer.schema.safeParse(body);
      if (!parsed.success) {
        failures.push(
          `${op.operationId} ${status}: the body does not fit the documented schema: ${JSON.stringify(parsed.error.issues).slice(0, 400)} in ${text.slice(0, 300)}`,
        );
      }
    }

    for (const contract of CONTRACTS) {
      for (const op of contract.operations) {
        for (const status of Object.keys(op.responses).map(Number)) {
          if (status === 503) {
            // Any request that gets past authentication (a 401 is answered before the database is asked).
            const own = recipes[op.operationId] ?? {};
            const recipe = [200, 201, 204, 409, 404].map((n) => own[n]).find(Boolean);
            if (!recipe)
              failures.push(`${op.operationId} 503: no recipe for a request that reaches the database`);
            else outage.push([op, recipe]);
            continue;
          }
          const special = later[op.operationId]?.[status];
          if (special) continue;
          const recipe = recipes[op.operationId]?.[status];
          if (!recipe) {
            failures.push(
              `${op.operationId} ${status}: documented, and this test has no request that gives it`,
            );
            continue;
          }
          await check(op, status, recipe);
        }
      }
    }
    for (const contract of CONTRACTS) {
      for (const op of contract.operations) {
        for (const [status, special] of Object.entries(later[op.operationId] ?? {})) {
          if (special.skip) {
            t.diagnostic(`not checked here: ${op.operationId} ${status} (${special.skip})`);
            if (IN_CI) failures.push(`${op.operationId} ${status}: ${special.skip}`);
            continue;
          }
          await check(op, Number(status), special.run);
        }
      }
    }

    // The outage: the database unreachable (the proxy cut); each documented 503 answered with Retry-After.
    const pg = await postgres;
    if (pg.skip || !proxy) {
      t.diagnostic(`503 answers not checked here: ${pg.skip || 'PGlite has no connection to cut'}`);
      if (IN_CI) pg.assertPresent();
    } else {
      newServiceId = 'nao-existe-mais';
      await proxy.cut();
      try {
        for (const [op, recipe] of outage) await check(op, 503, recipe);
      } finally {
        await proxy.restore();
      }
    }
    assert.deepEqual(failures, []);
  });
});
