import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { sql } from 'kysely';
import type { Listen } from '../../src/db/notifications.ts';
import { registerPollRoutes } from '../../src/events/poll-routes.ts';
import { createRelay, type Relay } from '../../src/events/relay.ts';
import { CLAIMS_CHANGE, createSetSigner, type SetSigner } from '../../src/events/set-format.ts';
import { createStreamStore } from '../../src/events/stream-store.ts';
import { createCitizenStore, writeProfile } from '../../src/identity/citizen-store.ts';
import { loadSigningKeys } from '../../src/oidc/keys.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { TEST_SECRET } from '../helpers/test-app.ts';
import { createTestDatabase, type TestDatabase, usingPostgres } from '../helpers/test-database.ts';
import { ADDRESS, consent, decode, seedCitizen, seedService, waitFor } from './event-helpers.ts';

const ISSUER = 'http://127.0.0.1:9/issuer';
// Far longer than any test waits: whatever happens here happens because a commit notified it.
const NEVER = 10 * 60 * 1000;

describe('a commit wakes the relay and waiting long polls (LISTEN/NOTIFY); polling is only the safety net', () => {
  let database: TestDatabase;
  let db: TestDatabase['db'];
  let signer: SetSigner;
  let relay: Relay | undefined;

  /** The database's listen, telling the test when the subscription is in place. */
  function watchedListen(): { listen: Listen; subscribed: Promise<void> } {
    let ready!: () => void;
    const subscribed = new Promise<void>((r) => (ready = r));
    return {
      subscribed,
      listen: async (channel, onNotify) => {
        const off = await database.listen!(channel, onNotify);
        ready();
        return off;
      },
    };
  }

  async function changeAddress(citizenId: string, number: string) {
    const citizen = (await createCitizenStore(db).findById(citizenId))!;
    await db.transaction().execute((trx) => writeProfile(trx, citizen, { address: { ...ADDRESS, number } }));
  }

  const unfanned = async () =>
    (await db.selectFrom('events').select('id').where('fanned_out_at', 'is', null).execute()).length;

  before(async () => {
    database = await createTestDatabase();
    db = database.db;
    signer = await createSetSigner(await loadSigningKeys(db, createSecrets(TEST_SECRET)));
  });

  after(async () => {
    await relay?.stop();
    await database?.drop();
  });

  test('an idle relay fans out a change as soon as it commits; a rolled-back change wakes nothing', async () => {
    const service = await seedService(db, ['name', 'address']);
    const citizen = await seedCitizen(db);
    await consent(db, citizen.id, service);
    const { listen, subscribed } = watchedListen();
    relay = createRelay({
      db,
      issuer: ISSUER,
      signer,
      lockStreams: database.kind === 'postgres',
      pauseAfter: 5,
      retryBaseMs: 50,
      retryMaxMs: 300,
      idleMs: NEVER,
      listeningIdleMs: NEVER,
      listen,
    });
    relay.start();
    await subscribed;
    await waitFor(
      'the relay to fan out what was there before it started',
      async () => (await unfanned()) === 0,
    );

    await assert.rejects(
      db.transaction().execute(async (trx) => {
        const c = (await createCitizenStore(trx).findById(citizen.id))!;
        await writeProfile(trx, c, { address: { ...ADDRESS, number: 'never' } });
        throw new Error('rolled back');
      }),
      /rolled back/,
    );
    await changeAddress(citizen.id, '42');
    await waitFor(
      'the relay, woken by the commit, to fan the change out',
      async () => (await unfanned()) === 0,
    );
    const delivered = await db
      .selectFrom('event_deliveries')
      .select('payload')
      .where('client_id', '=', service.clientId)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    const events = (
      delivered.payload as { events: Record<string, { claims: { address: { number: string } } }> }
    ).events;
    assert.equal(events[CLAIMS_CHANGE]!.claims.address.number, '42');
  });

  test('the listening connection is lost (PostgreSQL): the relay listens again and keeps waking on commits', {
    skip: usingPostgres ? false : 'PGlite has no separate listening connection to lose',
  }, async () => {
    assert.ok(relay, 'the relay of the previous test is running');
    const citizen = await seedCitizen(db);
    await sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid() and query ilike 'listen %'`.execute(db);
    // Listening again is visible in pg_stat_activity; then a commit wakes the relay as before.
    await waitFor(
      'the relay to listen again',
      async () =>
        (
          await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and query ilike 'listen %'`.execute(db)
        ).rows[0]!.n > 0,
    );
    await changeAddress(citizen.id, '43');
    await waitFor('the relay to fan out after the reconnection', async () => (await unfanned()) === 0);
    // The reconnection itself nudges the relay once (for what it may have missed): only a
    // notification can wake it for this second change.
    await changeAddress(citizen.id, '44');
    await waitFor('the relay, woken by the commit, to fan out again', async () => (await unfanned()) === 0);
  });

  test('a long poll answers when the relay commits deliveries for it, not at its next look', async () => {
    const service = await seedService(db, ['name', 'address']);
    const clientSecret = await createServiceStore(db, { provider: createProviderState() }).rotateSecret(service.clientId);
    const citizen = await seedCitizen(db);
    await consent(db, citizen.id, service);
    await waitFor('the consent event to be fanned out', async () => (await unfanned()) === 0);
    await db.deleteFrom('event_deliveries').where('client_id', '=', service.clientId).execute();
    const { listen, subscribed } = watchedListen();
    const app = Fastify();
    registerPollRoutes(app, {
      db,
      services: createServiceStore(db, { provider: createProviderState() }),
      streams: createStreamStore(db),
      signer,
      closing: () => false,
      listen,
      longPollMs: NEVER,
      lookEveryMs: NEVER,
    });
    await app.ready();
    try {
      const basic = Buffer.from(`${service.clientId}:${clientSecret}`).toString('base64');
      const answer = app.inject({
        method: 'POST',
        url: '/api/v1/events',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
        payload: { maxEvents: 10 },
      });
      await subscribed;
      await changeAddress(citizen.id, '45');
      const response = await answer;
      assert.equal(response.statusCode, 200);
      const sets = Object.values((response.json() as { sets: Record<string, string> }).sets);
      assert.equal(sets.length, 1);
      assert.equal(decode(sets[0]!).events[CLAIMS_CHANGE].claims.address.number, '45');
    } finally {
      await app.close();
    }
  });
});
