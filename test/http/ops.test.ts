import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/database.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, authorizationRequest, UserAgent } from '../helpers/journeys.ts';
import { childEnv, createSharedDatabase, killChildren, runCli, type SharedDatabase, startServerProcess } from '../helpers/processes.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase, usingPostgres } from '../helpers/test-database.ts';
import { formAction } from '../helpers/user-agent.ts';

describe('operations: /healthz, /readyz, /metrics', () => {
  let app: TestApp;

  before(async () => {
    app = await startTestApp({ DEMO: 'off' });
  });

  after(async () => {
    await app?.stop();
  });

  test('/healthz and /readyz answer 200 while the database answers', async () => {
    const health = await fetch(`${app.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', database: 'ok' });
  });

  test('/metrics: Prometheus text with request counters, a latency histogram and logins by result', async () => {
    const svc = await addService(app);
    const citizen = await seedCitizen(app.db.db);
    const ua = new UserAgent();
    const auth = await authorizationRequest(svc);
    const login = await ua.get(auth.url.href, svc.redirectUri);
    assert.match(login.html, /name="password"/);
    const failed = await ua.post(formAction(login, '/login'), { identifier: citizen.email, password: 'not the password at all' }, svc.redirectUri);
    assert.equal(failed.status, 401, 'a wrong password shows the login page again');
    assert.match(failed.html, /name="password"/);
    const done = await ua.post(formAction(failed, '/login'), { identifier: citizen.email, password: citizen.password }, svc.redirectUri);
    assert.doesNotMatch(done.html, /name="password"/, 'the right password moves on');
    await fetch(`${app.url}/healthz`);

    const res = await fetch(`${app.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (line: RegExp) => {
      const found = text.split('\n').find((l) => line.test(l));
      assert.ok(found, `a sample matching ${line} in:\n${text.split('\n').filter((l) => l.startsWith('cidadela_')).join('\n')}`);
      return Number(found.split(' ').pop());
    };
    assert.match(text, /^# TYPE cidadela_http_requests_total counter$/m);
    assert.match(text, /^# TYPE cidadela_http_request_duration_seconds histogram$/m);
    assert.match(text, /^# TYPE cidadela_logins_total counter$/m);
    assert.equal(value(/^cidadela_logins_total\{result="invalid"\} /), 1);
    assert.equal(value(/^cidadela_logins_total\{result="success"\} /), 1);
    assert.ok(value(/^cidadela_http_requests_total\{route="\/healthz",status="2xx"\} /) >= 1);
    assert.equal(value(/^cidadela_http_requests_total\{route="\/interaction\/:uid\/login",status="4xx"\} /), 1, 'the failed login');
    assert.equal(value(/^cidadela_http_requests_total\{route="\/interaction\/:uid\/login",status="3xx"\} /), 1, 'the successful login');
    assert.ok(value(/^cidadela_http_requests_total\{route="oidc",status="3xx"\} /) >= 1, 'provider requests are counted too');
    assert.doesNotMatch(text, /route="unmatched",status="[23]xx"/, 'only requests no route took count as unmatched');
    const count = value(/^cidadela_http_request_duration_seconds_count\{route="\/interaction\/:uid\/login"\} /);
    assert.equal(count, 2);
    assert.equal(value(/^cidadela_http_request_duration_seconds_bucket\{le="\+Inf",route="\/interaction\/:uid\/login"\} /), count);
    assert.ok(value(/^cidadela_http_request_duration_seconds_sum\{route="\/interaction\/:uid\/login"\} /) > 0);
    // Labels are route patterns, never addresses with ids in them (one series per uid would grow without end).
    const uid = new URL(login.url).pathname.split('/')[2]!;
    assert.ok(!text.includes(uid), 'no interaction uid in a label');
    assert.ok(!text.includes(citizen.email));
  });
});

/** A TCP relay in front of PostgreSQL that the test can cut and restore, as a network failure would. */
async function startRelay(targetPort: number, port = 0) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(targetPort, '127.0.0.1');
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

describe('/readyz when the database is gone', () => {
  let app: TestApp | undefined;
  let database: TestDatabase | undefined;
  let relay: Awaited<ReturnType<typeof startRelay>> | undefined;
  let viaRelay: TestDatabase | undefined;

  after(async () => {
    await app?.stop();
    await relay?.cut().catch(() => {});
    await viaRelay?.close().catch(() => {});
    // On PGlite the test closed it already; closing twice is not what is under test.
    await database?.drop().catch(() => {});
  });

  test('503 with Retry-After; /healthz stays 200 (the process is alive); ready again when it returns', async () => {
    database = await createTestDatabase();
    let restore: (() => Promise<void>) | undefined;
    if (usingPostgres) {
      // The server reaches PostgreSQL through a relay; cutting it is the network going away.
      const target = new URL(database.url!);
      relay = await startRelay(Number(target.port || 5432));
      const relayPort = relay.port;
      target.host = `127.0.0.1:${relayPort}`;
      const handle = await openDatabase({ databaseUrl: target.href, poolSize: 4 });
      viaRelay = { ...handle, url: target.href, drop: () => handle.close() };
      app = await startTestApp({ DEMO: 'off' }, viaRelay);
      restore = async () => {
        relay = await startRelay(Number(new URL(database!.url!).port || 5432), relayPort);
      };
    } else {
      app = await startTestApp({ DEMO: 'off' }, database);
    }
    assert.equal((await fetch(`${app.url}/readyz`)).status, 200);

    // A request in the middle of a transaction when the database goes: its query fails, the process lives on.
    let inTransaction: Promise<unknown> = Promise.resolve();
    if (relay) {
      let cut!: () => void;
      const cutDone = new Promise<void>((resolve) => (cut = resolve));
      let started!: () => void;
      const begun = new Promise<void>((resolve) => (started = resolve));
      inTransaction = viaRelay!.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        started();
        await cutDone;
        await sql`select 2`.execute(trx);
      });
      inTransaction.catch(() => {});
      await begun;
      await relay.cut();
      cut();
    } else {
      await database.close();
    }
    if (relay) await assert.rejects(inTransaction, 'the transaction in flight fails, to its caller');

    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(ready.headers.get('retry-after'), '5');
    assert.deepEqual(await ready.json(), { status: 'unavailable', database: 'unreachable' });
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200);
    if (relay) {
      // A request that needs the database is told to come back: 503 with Retry-After, not a 500.
      const api = await fetch(`${app.url}/admin/api/services`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
      assert.equal(api.status, 503);
      assert.equal(api.headers.get('retry-after'), '5');
      assert.deepEqual(await api.json(), { error: 'error.unavailable' });
      // The provider's endpoints say the same, in the protocol's words for services...
      const token = await fetch(`${app.url}/oidc/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('some-service:secret').toString('base64')}` },
        body: 'grant_type=refresh_token&refresh_token=abc',
      });
      assert.equal(token.status, 503);
      assert.equal(token.headers.get('retry-after'), '5');
      assert.equal((await token.json()).error, 'temporarily_unavailable');
      // ... and in the person's language for a browser.
      const auth = await fetch(`${app.url}/oidc/auth?client_id=some-service&response_type=code&scope=openid`, { headers: { 'accept-language': 'es' } });
      assert.equal(auth.status, 503);
      assert.match(await auth.text(), /no está disponible/);
    }

    if (restore) {
      await restore();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await fetch(`${app.url}/readyz`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, 'ready again once the database is back');
    }
  });
});

describe('the server process: graceful shutdown and production refusals', () => {
  let shared: SharedDatabase;

  before(async () => {
    shared = await createSharedDatabase();
  });

  after(async () => {
    await killChildren();
    await shared?.drop();
  });

  /** Connects and sends a request's head with `Expect: 100-continue`; resolves once the server has read it. */
  function startRequest(port: number, head: string): Promise<{ socket: Socket; response: Promise<string> }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      let continued = false;
      // What the server sent, once it closes the connection (or after 30 s, whatever came by then).
      const response = new Promise<string>((done) => {
        socket.on('close', () => done(received));
        socket.on('data', () => {
          if (continued) setTimeout(() => done(received), 30_000).unref();
        });
      });
      const timer = setTimeout(() => reject(new Error(`no 100 Continue within 20 s: ${received}`)), 20_000);
      socket.on('error', reject);
      socket.on('data', (chunk) => {
        received += chunk;
        if (!continued && received.includes('100 Continue\r\n\r\n')) {
          continued = true;
          received = received.slice(received.indexOf('100 Continue\r\n\r\n') + 16);
          clearTimeout(timer);
          resolve({ socket, response });
        }
      });
      socket.write(head);
    });
  }

  function refusesConnections(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.on('error', () => resolve(true));
    });
  }

  test('SIGTERM during a request: the request completes, new connections are refused, exit code 0', async () => {
    const server = await startServerProcess(childEnv({ ...shared.env, ADMIN_TOKEN: TEST_ADMIN_TOKEN, DEMO: 'off' }));
    const body = JSON.stringify({ clientId: 'chegou-durante-o-desligamento', name: 'Pedido em andamento', redirectUris: ['https://x.example/cb'] });
    const head = [
      'POST /admin/api/services HTTP/1.1',
      `Host: 127.0.0.1:${server.port}`,
      `Authorization: Bearer ${TEST_ADMIN_TOKEN}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Expect: 100-continue',
      '',
      '',
    ].join('\r\n');
    // The server has read the head and waits for the body: the request is in flight.
    const { socket, response } = await startRequest(server.port, head);
    server.child.kill('SIGTERM');
    await server.waitForOutput(/shutting down: finishing requests in flight/, 20_000);
    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) {
      refused = await refusesConnections(server.port);
      if (!refused) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(refused, 'a shutting-down server takes no new connections');
    assert.equal(server.child.exitCode, null, 'still running while a request is in flight');

    socket.write(body);
    const raw = await response;
    assert.match(raw, /^HTTP\/1\.1 201 /, raw);
    // Its keep-alive connection ends with it, so an idle client cannot hold the process open.
    assert.match(raw.slice(0, raw.indexOf('\r\n\r\n')), /\r\nconnection: close\r\n/i);
    assert.ok(socket.destroyed || socket.readableEnded, 'the server closed the connection');
    const json = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ''));
    assert.equal(json.service.clientId, 'chegou-durante-o-desligamento');
    assert.equal(await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('still running after 30 s'), 30_000).unref())]), 0);

    const handle = await shared.open();
    try {
      const row = await handle.db.selectFrom('services').select('client_id').where('client_id', '=', 'chegou-durante-o-desligamento').executeTakeFirst();
      assert.ok(row, 'what the request did is stored');
    } finally {
      await handle.close();
    }
  });

  test('production refuses to start without SECRET_KEY, or with a development one, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cidadela-prod-'));
    try {
      const base = { NODE_ENV: 'production', DATA_DIR: dir, PORT: '0', PUBLIC_URL: 'https://cidadela.example' };
      const cases: [Record<string, string | undefined>, RegExp][] = [
        [{ SECRET_KEY: undefined }, /SECRET_KEY is required in production/],
        [{ SECRET_KEY: `dev-${'a'.repeat(40)}` }, /SECRET_KEY looks like a development secret/],
        [{ SECRET_KEY: 'short' }, /SECRET_KEY/],
      ];
      for (const [env, message] of cases) {
        const result = await runCli(['serve'], childEnv({ ...base, ...env }), 60_000);
        assert.notEqual(result.code, 0, `${JSON.stringify(env)} must not start`);
        assert.equal(result.code, 1);
        assert.match(result.stderr, message);
        assert.doesNotMatch(result.stdout, /listening/);
      }
      assert.deepEqual(readdirSync(dir), [], 'no development secret or database was created');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
