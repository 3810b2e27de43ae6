import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createPushTransport } from '../../src/events/push-transport.ts';
import { backoffMs, createRelay, type Relay } from '../../src/events/relay.ts';
import { CLAIMS_CHANGE, createSetSigner, type SetSigner } from '../../src/events/set-format.ts';
import { createStreamStore } from '../../src/events/stream-store.ts';
import { createCitizenStore, writeProfile } from '../../src/identity/citizen-store.ts';
import { loadSigningKeys } from '../../src/oidc/keys.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import { TEST_SECRET } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import {
  ADDRESS,
  consent,
  decode,
  pendingCount,
  publicJwks,
  seedCitizen,
  seedService,
  verifySet,
  waitFor,
} from './event-helpers.ts';

const ISSUER = 'http://127.0.0.1:9/issuer';
const PAUSE_AFTER = 3;

type Mode = 'accept' | 'error' | 'hang';

/** A service's push endpoint on loopback (RFC 8935) whose behaviour the test chooses. */
async function startReceiver() {
  const received: { token: string; contentType: string | undefined }[] = [];
  let mode: Mode = 'accept';
  let calls = 0;
  const hanging = new Set<ServerResponse>();
  let server: Server | undefined;
  let port = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls++;
      if (mode === 'hang') {
        hanging.add(res);
        return;
      }
      if (mode === 'error') {
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ err: 'internal', description: 'database is down' }));
        return;
      }
      received.push({ token: body, contentType: req.headers['content-type'] });
      res.writeHead(202).end();
    });
  };
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer(handler);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  return {
    received,
    get url() {
      return `http://127.0.0.1:${port}/events`;
    },
    get calls() {
      return calls;
    },
    set mode(m: Mode) {
      mode = m;
    },
    /** Stops listening: connections are refused. */
    async down() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      const s = server;
      server = undefined;
      s?.closeAllConnections();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    up: listen,
    close() {
      return this.down();
    },
  };
}

describe('push delivery (RFC 8935): retries with backoff, pause after repeated failures, nothing lost', () => {
  let database: TestDatabase;
  let db: TestDatabase['db'];
  let signer: SetSigner;
  let jwks: ReturnType<typeof publicJwks>;
  const closers: (() => Promise<unknown>)[] = [];

  before(async () => {
    database = await createTestDatabase();
    db = database.db;
    const keys = await loadSigningKeys(db, createSecrets(TEST_SECRET));
    signer = await createSetSigner(keys);
    jwks = publicJwks(keys);
  });

  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await database?.drop();
  });

  /** Only the hanging endpoint needs a short timeout; elsewhere a slow machine must not cause retries. */
  function relay(timeoutMs = 5_000, pauseAfter = PAUSE_AFTER): Relay {
    const r = createRelay({
      db,
      issuer: ISSUER,
      signer,
      lockStreams: database.kind === 'postgres',
      push: createPushTransport({ timeoutMs }),
      pauseAfter,
      retryBaseMs: 20,
      retryMaxMs: 80,
      idleMs: 20,
    });
    closers.push(() => r.stop());
    return r;
  }

  async function setup() {
    const receiver = await startReceiver();
    closers.push(() => receiver.close());
    const service = await seedService(db, ['name', 'address']);
    await createStreamStore(db).setDelivery(service.clientId, { method: 'push', pushUrl: receiver.url });
    const citizen = await seedCitizen(db);
    await consent(db, citizen.id, service);
    const setNumber = async (n: number) => {
      const c = (await createCitizenStore(db).findById(citizen.id))!;
      await db
        .transaction()
        .execute((trx) => writeProfile(trx, c, { address: { ...ADDRESS, number: String(n) } }));
    };
    return { receiver, service, citizen, setNumber };
  }

  /** The address numbers received, as a consumer applies them: a jti seen before is a duplicate. */
  const numbers = (tokens: { token: string }[]) => {
    const seen = new Set<string>();
    return tokens
      .map((t) => decode(t.token))
      .filter((p) => !seen.has(p.jti) && seen.add(p.jti))
      .map((p) => p.events[CLAIMS_CHANGE]?.claims.address.number)
      .filter(Boolean)
      .map(Number);
  };

  for (const failure of ['error', 'hang', 'down'] as const) {
    const what = { error: 'answers 500', hang: 'does not answer in time', down: 'is down' }[failure];
    test(`an endpoint that ${what}: retried with backoff, then paused; after resume everything arrives in order`, async () => {
      const { receiver, service, setNumber } = await setup();
      const r = relay(failure === 'hang' ? 300 : 5_000);
      r.start();
      await waitFor(
        'the consent event',
        async () => receiver.received.length > 0 && (await pendingCount(db, service.clientId)) === 0,
      );
      if (failure === 'down') await receiver.down();
      else receiver.mode = failure;
      for (let n = 1; n <= 4; n++) await setNumber(n);
      const streams = createStreamStore(db);
      // The relay keeps fanning out into a paused stream: wait for the pause and for the four
      // changes to be there (a relay quicker than these commits pauses before the last ones land).
      const paused = await waitFor('the stream to pause with the four changes pending', async () => {
        const v = await streams.view(service.clientId);
        return v.paused && v.depth >= 4 ? v : undefined;
      });
      assert.equal(paused.consecutiveFailures, PAUSE_AFTER);
      assert.equal(paused.depth, 4, 'nothing lost, nothing skipped');
      assert.match(
        paused.lastError ?? '',
        failure === 'error'
          ? /HTTP 500: internal/
          : failure === 'hang'
            ? /no answer within 300 ms/
            : /ECONNREFUSED/,
      );
      if (failure !== 'down')
        assert.equal(
          receiver.calls - receiver.received.length,
          PAUSE_AFTER,
          'one try per attempt, each one the oldest pending SET',
        );
      const head = await db
        .selectFrom('event_deliveries')
        .select(['attempts', 'last_error'])
        .where('client_id', '=', service.clientId)
        .where('status', '=', 'pending')
        .orderBy('id')
        .executeTakeFirstOrThrow();
      assert.equal(head.attempts, PAUSE_AFTER);
      // Paused: no more tries until the operator resumes it.
      const calls = receiver.calls;
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(receiver.calls, calls);

      if (failure === 'down') await receiver.up();
      receiver.mode = 'accept';
      assert.equal(await streams.resume(service.clientId), true);
      r.nudge();
      await waitFor('delivery after resume', async () => (await pendingCount(db, service.clientId)) === 0);
      assert.deepEqual(numbers(receiver.received), [1, 2, 3, 4]);
      for (const m of receiver.received) {
        assert.equal(m.contentType, 'application/secevent+jwt');
        await verifySet(m.token, jwks, ISSUER, service.clientId);
      }
      const view = await streams.view(service.clientId);
      assert.equal(view.paused, false);
      assert.equal(view.consecutiveFailures, 0);
      await r.stop();
    });
  }

  test('failures below the limit: retried without the operator, in order', async () => {
    const { receiver, service, setNumber } = await setup();
    const r = relay(5_000, 1000);
    await r.runOnce();
    receiver.mode = 'error';
    await setNumber(1);
    await setNumber(2);
    const streams = createStreamStore(db);
    await waitFor('two failed attempts', async () => {
      await r.runOnce();
      return (await streams.view(service.clientId)).consecutiveFailures >= 2;
    });
    receiver.mode = 'accept';
    await waitFor('delivery', async () => {
      await r.runOnce();
      return (await pendingCount(db, service.clientId)) === 0;
    });
    assert.deepEqual(numbers(receiver.received), [1, 2]);
    const view = await streams.view(service.clientId);
    assert.equal(view.paused, false);
    assert.equal(view.consecutiveFailures, 0);
  });

  test('backoff grows exponentially, with jitter, up to the cap', () => {
    assert.equal(
      backoffMs(1, 1000, 60_000, () => 0),
      500,
    );
    assert.equal(
      backoffMs(1, 1000, 60_000, () => 1),
      1000,
    );
    assert.equal(
      backoffMs(4, 1000, 60_000, () => 1),
      8000,
    );
    assert.equal(
      backoffMs(30, 1000, 60_000, () => 1),
      60_000,
    );
    assert.equal(
      backoffMs(30, 1000, 60_000, () => 0),
      30_000,
    );
  });

  test('replay delivers a service’s SETs again from a point in time, with their jti', async () => {
    const { receiver, service, setNumber } = await setup();
    const r = relay();
    await r.runOnce();
    const since = new Date();
    await new Promise((res) => setTimeout(res, 20));
    await setNumber(1);
    await setNumber(2);
    await r.runOnce();
    assert.deepEqual(numbers(receiver.received), [1, 2]);
    const first = [...new Set(receiver.received.map((m) => decode(m.token).jti))];
    const before = receiver.received.length;
    const replayed = await createStreamStore(db).replay(service.clientId, new Date(since.getTime() - 1000));
    assert.equal(replayed, 3, 'consent and both changes: everything since then');
    await waitFor('the replay', async () => {
      await r.runOnce();
      return (await pendingCount(db, service.clientId)) === 0;
    });
    const again = [...new Set(receiver.received.slice(before).map((m) => decode(m.token).jti))];
    assert.deepEqual(again, first);
  });
});
