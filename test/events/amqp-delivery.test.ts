import assert from 'node:assert/strict';
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { after, afterEach, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import { amqpQueueDeclarer, createAmqpTransport, deadLetterQueueName } from '../../src/events/amqp-transport.ts';
import { provisionBrokerAccount } from '../../src/events/broker-accounts.ts';
import { fanOut } from '../../src/events/fan-out.ts';
import { createRelay, type RelayOptions } from '../../src/events/relay.ts';
import {
  CLAIMS_CHANGE,
  CONSENT_REVOKED,
  createSetSigner,
  type SetSigner,
} from '../../src/events/set-format.ts';
import { amqpQueueName, createStreamStore } from '../../src/events/stream-store.ts';
import type { Transport } from '../../src/events/transport.ts';
import { AppError } from '../../src/platform/errors.ts';
import { createCitizenStore, writeProfile } from '../../src/identity/citizen-store.ts';
import { loadSigningKeys, rotateSigningKeys } from '../../src/oidc/keys.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import type { Service } from '../../src/services/service-store.ts';
import { startTestApp, TEST_ADMIN_TOKEN, TEST_SECRET, type TestApp } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import {
  ADDRESS,
  AMQP_TEST_URL,
  consent,
  decode,
  deleteQueues,
  drainQueue,
  infrastructure,
  pendingCount,
  publicJwks,
  revoke,
  seedCitizen,
  seedService,
  startTcpProxy,
  verifySet,
  waitFor,
} from './event-helpers.ts';

const infra = await infrastructure({ postgres: true, amqp: true });
const MANAGEMENT_URL = process.env.AMQP_MANAGEMENT_TEST_URL ?? 'http://guest:guest@127.0.0.1:15672';
const management = await infrastructure({ amqpManagement: MANAGEMENT_URL });
const ISSUER = 'http://127.0.0.1:9/issuer';

describe('RabbitMQ delivery: one durable queue per service, confirms, nothing lost', {
  skip: infra.skip,
}, () => {
  let database: TestDatabase;
  let db: TestDatabase['db'];
  let signer: SetSigner;
  let jwks: ReturnType<typeof publicJwks>;
  const queues: string[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const children: ChildProcess[] = [];
  const brokerUsers: string[] = [];

  async function amqpService(fields = ['name', 'address']): Promise<Service> {
    const service = await seedService(db, fields);
    await createStreamStore(db).setDelivery(service.clientId, { method: 'amqp' });
    queues.push(amqpQueueName(service.clientId), deadLetterQueueName(service.clientId));
    return service;
  }

  function relay(url: string, extra: Partial<RelayOptions> = {}) {
    const transport = createAmqpTransport({ url, confirmTimeoutMs: 5_000, connectTimeoutMs: 2_000 });
    const r = createRelay({
      db,
      issuer: ISSUER,
      signer,
      lockStreams: true,
      amqp: transport,
      pauseAfter: 5,
      retryBaseMs: 50,
      retryMaxMs: 300,
      idleMs: 30,
      ...extra,
    });
    closers.push(async () => {
      await r.stop();
      await transport.close();
    });
    return { relay: r, transport };
  }

  async function setAddressNumber(citizenId: string, n: number, origin?: string) {
    const citizen = (await createCitizenStore(db).findById(citizenId))!;
    await db
      .transaction()
      .execute((trx) =>
        writeProfile(
          trx,
          citizen,
          { address: { ...ADDRESS, number: String(n) } },
          { clientId: origin ?? null },
        ),
      );
  }

  // Checked before the pending count: deliveries exist from the moment their events are fanned out.
  const allFannedOut = async () =>
    (await db.selectFrom('events').select('id').where('fanned_out_at', 'is', null).execute()).length === 0;

  const numberOf = (token: string) => Number(decode(token).events[CLAIMS_CHANGE]?.claims.address.number);

  before(async () => {
    infra.assertPresent();
    database = await createTestDatabase();
    db = database.db;
    const keys = await loadSigningKeys(db, createSecrets(TEST_SECRET));
    signer = await createSetSigner(keys);
    jwks = publicJwks(keys);
  });

  // Relays, transports and proxies live for one test: a relay left running would take the next test's work.
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await deleteQueues(AMQP_TEST_URL, queues);
    for (const user of brokerUsers) {
      const base = new URL(MANAGEMENT_URL);
      const auth = `Basic ${Buffer.from(`${base.username}:${base.password}`).toString('base64')}`;
      base.username = '';
      base.password = '';
      await fetch(`${base.href.replace(/\/$/, '')}/api/users/${encodeURIComponent(user)}`, {
        method: 'DELETE',
        headers: { authorization: auth },
      }).catch(() => {});
    }
    await database?.drop();
  });

  test('the server delivers to the service queue (quorum, with a dead-letter queue); SETs verify with /oidc/jwks', async () => {
    let app: TestApp | undefined;
    try {
      app = await startTestApp({ AMQP_URL: AMQP_TEST_URL }, database);
      const service = await seedService(db, ['name', 'address']);
      queues.push(amqpQueueName(service.clientId), deadLetterQueueName(service.clientId));
      const put = await fetch(`${app.url}/admin/api/services/${service.clientId}/delivery`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ method: 'amqp' }),
      });
      assert.equal(put.status, 200);
      const citizen = await seedCitizen(db);
      await consent(db, citizen.id, service);
      await setAddressNumber(citizen.id, 11);
      await waitFor(
        'the relay inside the server to deliver',
        async () =>
          (
            await db
              .selectFrom('event_deliveries')
              .select('id')
              .where('client_id', '=', service.clientId)
              .execute()
          ).length === 2 && (await pendingCount(db, service.clientId)) === 0,
      );
      const got = await drainQueue(AMQP_TEST_URL, amqpQueueName(service.clientId), 2);
      assert.equal(got.length, 2, 'consent granted, then the address change');
      const issuer: string = app.url;
      const remote = createRemoteJWKSet(new URL(`${issuer}/oidc/jwks`));
      for (const m of got) {
        const { payload, protectedHeader } = await jwtVerify(m.token, remote, {
          issuer,
          audience: service.clientId,
          typ: 'secevent+jwt',
        });
        assert.equal(payload.jti, m.jti);
        assert.equal(payload.sub, citizen.id);
        assert.equal(protectedHeader.alg, 'ES256');
      }
      assert.equal(decode(got[1]!.token).events[CLAIMS_CHANGE].claims.address.number, '11');
      const view = await (
        await fetch(`${app.url}/admin/api/services/${service.clientId}/queue`, {
          headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        })
      ).json();
      assert.equal(view.queue.depth, 0);
      assert.equal(view.queue.amqpQueue, amqpQueueName(service.clientId));
      assert.ok(view.queue.lastDeliveryAt);
      // The queue is a quorum queue: declaring it as classic is refused by the broker.
      const connection = await amqp.connect(AMQP_TEST_URL);
      try {
        const ch = await connection.createChannel();
        ch.on('error', () => {});
        await assert.rejects(
          ch.assertQueue(amqpQueueName(service.clientId), {
            durable: true,
            arguments: { 'x-queue-type': 'classic' },
          }),
          /PRECONDITION_FAILED|inequivalent/,
        );
      } finally {
        await connection.close().catch(() => {});
      }
    } finally {
      await app?.close();
    }
  });

  test('a message the consumer rejects goes to the dead-letter queue, not away', async () => {
    const service = await amqpService();
    const citizen = await seedCitizen(db);
    await consent(db, citizen.id, service);
    const { relay: r } = relay(AMQP_TEST_URL);
    await r.runOnce();
    const connection = await amqp.connect(AMQP_TEST_URL);
    try {
      const ch = await connection.createChannel();
      const message = await waitFor(
        'the message',
        async () => (await ch.get(amqpQueueName(service.clientId))) || undefined,
      );
      assert.equal(message.properties.deliveryMode, 2, 'persistent');
      assert.equal(message.properties.contentType, 'application/secevent+jwt');
      ch.nack(message, false, false);
      const dead = await waitFor(
        'the dead letter',
        async () => (await ch.get(deadLetterQueueName(service.clientId))) || undefined,
        10_000,
      );
      assert.equal(dead.properties.messageId, message.properties.messageId);
      ch.ack(dead);
    } finally {
      await connection.close().catch(() => {});
    }
  });

  test('broker down: citizens keep updating, events pile up, all arrive in order when it returns', async () => {
    const service = await amqpService();
    const citizens = [await seedCitizen(db), await seedCitizen(db), await seedCitizen(db)];
    for (const c of citizens) await consent(db, c.id, service);
    const proxy = await startTcpProxy({
      host: new URL(AMQP_TEST_URL).hostname,
      port: Number(new URL(AMQP_TEST_URL).port || 5672),
    });
    closers.push(() => proxy.close());
    const url = new URL(AMQP_TEST_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const { relay: r } = relay(url.href);
    r.start();
    await waitFor(
      'the consent events to be delivered',
      async () => (await allFannedOut()) && (await pendingCount(db, service.clientId)) === 0,
    );
    await drainQueue(AMQP_TEST_URL, amqpQueueName(service.clientId), 3);

    await proxy.cut();
    for (let n = 1; n <= 10; n++) for (const c of citizens) await setAddressNumber(c.id, n);
    await waitFor('30 deliveries waiting', async () => (await pendingCount(db, service.clientId)) === 30);
    const stalled = await waitFor('the failure to show in the queue view', async () => {
      const v = await createStreamStore(db).view(service.clientId);
      return v.consecutiveFailures > 0 ? v : undefined;
    });
    assert.equal(stalled.depth, 30);
    assert.equal(stalled.paused, false, 'a broker outage does not pause the stream');
    assert.ok(stalled.lastError);

    await proxy.restore();
    await waitFor(
      'everything delivered after the broker came back',
      async () => (await pendingCount(db, service.clientId)) === 0,
      30_000,
    );
    const got = await drainQueue(AMQP_TEST_URL, amqpQueueName(service.clientId), 30);
    const unique = new Map(got.map((m) => [m.jti, m]));
    assert.equal(unique.size, 30, 'none lost');
    for (const c of citizens) {
      const numbers = [...unique.values()]
        .filter((m) => decode(m.token).sub === c.id)
        .map((m) => numberOf(m.token));
      assert.deepEqual(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'in order, per citizen');
    }
    for (const m of got) await verifySet(m.token, jwks, ISSUER, service.clientId);
  });

  test('relay killed (kill -9) between publish and mark: delivered again, the duplicate has the same jti', async () => {
    const service = await amqpService();
    const citizen = await seedCitizen(db);
    await consent(db, citizen.id, service);
    for (let n = 1; n <= 5; n++) await setAddressNumber(citizen.id, n);
    await fanOut(db, ISSUER);
    assert.equal(await pendingCount(db, service.clientId), 6);

    const child = fork(
      new URL('./fixtures/relay-child.ts', import.meta.url).pathname,
      [database.url!, AMQP_TEST_URL, TEST_SECRET, ISSUER],
      {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        execArgv: [],
      },
    );
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (c) => (stderr += c));
    const published = await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the child relay did not publish within 120 s (a cold process start on a busy machine)\n${stderr}`)),
        120_000,
      );
      child.once('message', (m: { published: string[] }) => {
        clearTimeout(timer);
        resolve(m.published);
      });
      child.once('exit', (code) =>
        reject(new Error(`the child relay exited (${code}) before publishing\n${stderr}`)),
      );
    });
    assert.equal(published.length, 6);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    // The broker has them; the database does not know: still pending.
    assert.equal(await pendingCount(db, service.clientId), 6);
    const { relay: r } = relay(AMQP_TEST_URL);
    await waitFor('the second relay to deliver', async () => {
      await r.runOnce();
      return (await pendingCount(db, service.clientId)) === 0;
    });
    const got = await drainQueue(AMQP_TEST_URL, amqpQueueName(service.clientId), 12);
    assert.equal(got.length, 12, 'every message twice');
    const seen = new Set<string>();
    const applied: number[] = [];
    for (const m of got) {
      if (seen.has(m.jti)) continue; // what a consumer does: the jti says it is a duplicate
      seen.add(m.jti);
      const claims = decode(m.token).events[CLAIMS_CHANGE]?.claims;
      if (claims) applied.push(Number(claims.address.number));
    }
    assert.deepEqual([...seen].sort(), [...published].sort());
    assert.deepEqual(applied, [1, 2, 3, 4, 5]);
  });

  test('two relays against one database: no stream is sent by both at once, nothing twice, order kept', async () => {
    const services = [await amqpService(), await amqpService(), await amqpService(), await amqpService()];
    const citizens = [];
    for (let i = 0; i < 5; i++) citizens.push(await seedCitizen(db));
    for (const c of citizens) for (const s of services) await consent(db, c.id, s);
    for (let n = 1; n <= 12; n++) for (const c of citizens) await setAddressNumber(c.id, n);

    const active = new Map<string, string>();
    const overlaps: string[] = [];
    const worked = new Set<string>();
    const watch = (name: string, inner: Transport): Transport => ({
      name: inner.name,
      async deliver(stream, batch) {
        const other = active.get(stream.clientId);
        if (other) overlaps.push(`${name} and ${other} on ${stream.clientId}`);
        active.set(stream.clientId, name);
        worked.add(name);
        try {
          // Long enough that a second relay would be caught sending the same stream.
          await new Promise((r) => setTimeout(r, 20));
          return await inner.deliver(stream, batch);
        } finally {
          active.delete(stream.clientId);
        }
      },
    });
    const second: DatabaseHandle = await openDatabase({ databaseUrl: database.url!, poolSize: 6 });
    closers.push(() => second.close());
    const ta = createAmqpTransport({ url: AMQP_TEST_URL });
    const tb = createAmqpTransport({ url: AMQP_TEST_URL });
    closers.push(
      () => ta.close(),
      () => tb.close(),
    );
    // Two streams at a time each, four streams: both relays must take part.
    const options = {
      issuer: ISSUER,
      signer,
      lockStreams: true,
      pauseAfter: 5,
      retryBaseMs: 50,
      retryMaxMs: 300,
      idleMs: 20,
      batchSize: 10,
      concurrency: 2,
      amqpStreamsPerClaim: 1,
    };
    const ra = createRelay({ ...options, db, amqp: watch('A', ta) });
    const rb = createRelay({ ...options, db: second.db, amqp: watch('B', tb) });
    closers.push(
      () => ra.stop(),
      () => rb.stop(),
    );
    ra.start();
    rb.start();
    await waitFor(
      'both relays to deliver everything',
      async () => {
        if (!(await allFannedOut())) return false;
        for (const s of services) if ((await pendingCount(db, s.clientId)) > 0) return false;
        return true;
      },
      60_000,
    );
    await ra.stop();
    await rb.stop();
    assert.deepEqual(overlaps, []);
    assert.deepEqual([...worked].sort(), ['A', 'B'], 'both relays took part');
    for (const s of services) {
      const got = await drainQueue(AMQP_TEST_URL, amqpQueueName(s.clientId), 65);
      assert.equal(got.length, 65, `${s.clientId}: 5 consents and 60 changes, each once`);
      assert.equal(new Set(got.map((m) => m.jti)).size, 65);
      for (const c of citizens) {
        const numbers = got
          .filter((m) => decode(m.token).sub === c.id && decode(m.token).events[CLAIMS_CHANGE])
          .map((m) => numberOf(m.token));
        assert.deepEqual(numbers, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      }
    }
  });

  test('after revoking consent, a citizen’s changes no longer reach that service (the revocation itself does)', async () => {
    const service = await amqpService();
    const other = await amqpService();
    const citizen = await seedCitizen(db);
    await consent(db, citizen.id, service);
    await consent(db, citizen.id, other);
    const { relay: r } = relay(AMQP_TEST_URL);
    await setAddressNumber(citizen.id, 1);
    await revoke(db, citizen.id, service.clientId);
    await setAddressNumber(citizen.id, 2);
    await setAddressNumber(citizen.id, 3);
    await waitFor('delivery', async () => {
      await r.runOnce();
      return (await pendingCount(db, service.clientId)) + (await pendingCount(db, other.clientId)) === 0;
    });
    const revoked = await drainQueue(AMQP_TEST_URL, amqpQueueName(service.clientId), 10, 2_000);
    const types = revoked.map((m) => Object.keys(decode(m.token).events)[0]);
    assert.equal(types.at(-1), CONSENT_REVOKED, 'the revocation is the last thing the service hears');
    assert.ok(!revoked.some((m) => [2, 3].includes(numberOf(m.token) || 0)));
    const still = await drainQueue(AMQP_TEST_URL, amqpQueueName(other.clientId), 4);
    assert.deepEqual(
      still.filter((m) => decode(m.token).events[CLAIMS_CHANGE]).map((m) => numberOf(m.token)),
      [1, 2, 3],
    );
  });

  test('the service’s own broker user (management API) reads its queue and nothing else', {
    skip: management.skip,
  }, async () => {
    management.assertPresent();
    const service = await amqpService();
    const neighbour = await amqpService();
    const citizen = await seedCitizen(db);
    await consent(db, citizen.id, service);
    await consent(db, citizen.id, neighbour);
    const { relay: r } = relay(AMQP_TEST_URL);
    await r.runOnce();
    const account = await provisionBrokerAccount({
      managementUrl: MANAGEMENT_URL,
      amqpUrl: AMQP_TEST_URL,
      clientId: service.clientId,
    });
    brokerUsers.push(account.username);
    assert.equal(account.queue, amqpQueueName(service.clientId));
    const own = new URL(AMQP_TEST_URL);
    own.username = encodeURIComponent(account.username);
    own.password = encodeURIComponent(account.password);
    const got = await drainQueue(own.href, account.queue, 1);
    assert.equal(got.length, 1, 'it reads its own queue');
    await verifySet(got[0]!.token, jwks, ISSUER, service.clientId);
    const connection = await amqp.connect(own.href);
    try {
      /** The broker must close the channel with ACCESS_REFUSED (bounded: 5 s). */
      const refused = async (use: (ch: amqp.Channel) => Promise<unknown>) => {
        const ch = await connection.createChannel();
        let error: Error | undefined;
        ch.on('error', (e: Error) => (error = e));
        const closed = new Promise<void>((resolve) => ch.once('close', () => resolve()));
        let timer: NodeJS.Timeout | undefined;
        await assert.rejects(
          (async () => {
            await use(ch);
            await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
            clearTimeout(timer);
            throw error ?? new Error('the broker allowed it');
          })(),
          /ACCESS_REFUSED/,
        );
      };
      await refused((ch) => ch.consume(amqpQueueName(neighbour.clientId), () => {}));
      await refused((ch) => ch.assertQueue('cidadela.intruder', { durable: true }));
      await refused(async (ch) => ch.sendToQueue(account.queue, Buffer.from('forged')));
    } finally {
      await connection.close().catch(() => {});
    }
  });

  test('the documented consumer starts before any event: setting the delivery to AMQP (admin API or CLI) declares the queue and its dead-letter queue', {
    skip: management.skip,
  }, async () => {
    management.assertPresent();
    /** Connects as the service's own broker user (read-only on its two queues), as its consumer does. */
    async function asService(clientId: string) {
      const account = await provisionBrokerAccount({ managementUrl: MANAGEMENT_URL, amqpUrl: AMQP_TEST_URL, clientId });
      brokerUsers.push(account.username);
      const own = new URL(AMQP_TEST_URL);
      own.username = encodeURIComponent(account.username);
      own.password = encodeURIComponent(account.password);
      const connection = await amqp.connect(own.href);
      closers.push(() => connection.close().catch(() => {}));
      return connection;
    }
    let app: TestApp | undefined;
    try {
      app = await startTestApp({ AMQP_URL: AMQP_TEST_URL }, database);
      const service = await seedService(db, ['name', 'address']);
      queues.push(amqpQueueName(service.clientId), deadLetterQueueName(service.clientId));
      const put = await fetch(`${app.url}/admin/api/services/${service.clientId}/delivery`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ method: 'amqp' }),
      });
      assert.equal(put.status, 200);
      assert.deepEqual((await put.json()).queues, {
        queue: amqpQueueName(service.clientId),
        deadLetterQueue: deadLetterQueueName(service.clientId),
        declared: true,
      });
      // No citizen has consented yet: the consumer of docs/integration-events.md starts all the same.
      const connection = await asService(service.clientId);
      const channel = await connection.createChannel();
      const received: string[] = [];
      await channel.consume(amqpQueueName(service.clientId), (message) => {
        if (!message) return;
        received.push(message.content.toString());
        channel.ack(message);
      });
      const dead = await connection.createChannel();
      assert.equal((await dead.checkQueue(deadLetterQueueName(service.clientId))).messageCount, 0);
      // And the relay publishes into the queue it declared (same arguments): the consumer gets the events.
      const citizen = await seedCitizen(db);
      await consent(db, citizen.id, service);
      await setAddressNumber(citizen.id, 5);
      await waitFor('the consumer to receive both events', async () => received.length >= 2);
      assert.equal(decode(received[1]!).events[CLAIMS_CHANGE].claims.address.number, '5');
    } finally {
      await app?.close();
    }

    // The CLI does the same.
    const other = await seedService(db, ['name']);
    queues.push(amqpQueueName(other.clientId), deadLetterQueueName(other.clientId));
    const child = spawn(
      process.execPath,
      [new URL('../../src/main.ts', import.meta.url).pathname, 'service', 'delivery', other.clientId, '--method', 'amqp'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'test',
          DATABASE_URL: database.url!,
          AMQP_URL: AMQP_TEST_URL,
          SECRET_KEY: TEST_SECRET,
          LOG_LEVEL: 'silent',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let output = '';
    child.stdout?.on('data', (c) => (output += c));
    child.stderr?.on('data', (c) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    assert.equal(code, 0, output);
    assert.match(output, /cidadela\.[a-z0-9-]+ and cidadela\.[a-z0-9-]+\.dlq declared/);
    const connection = await asService(other.clientId);
    const channel = await connection.createChannel();
    const { consumerTag } = await channel.consume(amqpQueueName(other.clientId), () => {});
    assert.ok(consumerTag);
    assert.equal((await channel.checkQueue(deadLetterQueueName(other.clientId))).messageCount, 0);
  });

  test('the broker unreachable when the delivery is set to AMQP: 503, the delivery is left as it was', async () => {
    const service = await seedService(db, ['name']);
    const streams = createStreamStore(db, { amqpQueues: amqpQueueDeclarer('amqp://guest:guest@127.0.0.1:9/') });
    await assert.rejects(streams.setDelivery(service.clientId, { method: 'amqp' }), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.status, 503);
      assert.equal(error.code, 'broker.unavailable');
      return true;
    });
    assert.equal((await streams.settings(service.clientId)).method, 'poll');
  });

  test('cidadela relay: the relay as its own process, picks up rotated keys, stopped cleanly by SIGTERM', async () => {
    const service = await amqpService();
    const citizen = await seedCitizen(db);
    await consent(db, citizen.id, service);
    await setAddressNumber(citizen.id, 77);
    const issuer = 'http://127.0.0.1:9';
    const child = spawn(process.execPath, [new URL('../../src/main.ts', import.meta.url).pathname, 'relay'], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'test',
        DATABASE_URL: database.url!,
        AMQP_URL: AMQP_TEST_URL,
        SECRET_KEY: TEST_SECRET,
        PUBLIC_URL: issuer,
        LOG_LEVEL: 'info',
        KEYS_RELOAD_SECONDS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (c) => (output += c));
    child.stderr?.on('data', (c) => (output += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(
      'the relay process to deliver',
      async () =>
        (
          await db
            .selectFrom('event_deliveries')
            .select('id')
            .where('client_id', '=', service.clientId)
            .execute()
        ).length === 2 && (await pendingCount(db, service.clientId)) === 0,
      // A process that starts cold (type stripping, every module loaded) on a busy machine.
      120_000,
    );
    const got = await drainQueue(AMQP_TEST_URL, amqpQueueName(service.clientId), 2);
    const { payload } = await verifySet(got[1]!.token, jwks, issuer, service.clientId);
    assert.equal(payload.events[CLAIMS_CHANGE].claims.address.number, '77');
    assert.match(output, /relay running/);

    // Keys rotated while it runs: once the new key may sign (2 × KEYS_RELOAD_SECONDS), events use it.
    const [newKid] = await rotateSigningKeys(db, createSecrets(TEST_SECRET));
    // Published at the first poll, signing once it is two polls old: the log lists the signing key first.
    await waitFor(
      'the relay to sign with the new key',
      async () => output.includes(`"kids":["${newKid}"`),
      15_000,
    );
    await setAddressNumber(citizen.id, 78);
    await waitFor(
      'the next delivery',
      async () => (await allFannedOut()) && (await pendingCount(db, service.clientId)) === 0,
    );
    const [next] = await drainQueue(AMQP_TEST_URL, amqpQueueName(service.clientId), 1);
    const header = JSON.parse(Buffer.from(next!.token.split('.')[0]!, 'base64url').toString());
    assert.equal(header.kid, newKid);
    assert.equal(decode(next!.token).events[CLAIMS_CHANGE].claims.address.number, '78');
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise((r) => (timer = setTimeout(() => r('still running'), 10_000))),
    ]);
    clearTimeout(timer);
    assert.equal(code, 0, output);
  });
});
