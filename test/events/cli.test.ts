import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../../src/db/database.ts';
import { fanOut } from '../../src/events/fan-out.ts';
import { ACCOUNT_DISABLED, ACCOUNT_ENABLED, ACCOUNT_PURGED } from '../../src/events/set-format.ts';
import type { Service } from '../../src/services/service-store.ts';
import { CLI_MODES, startCli } from '../helpers/cli.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';
import { consent, seedCitizen, seedService } from './event-helpers.ts';

// Each command with no server running and through a running server (test/helpers/cli.ts).
for (const { mode, title } of CLI_MODES) describe(`cidadela citizen … and cidadela service queue|replay|resume|delivery (${title})`, () => {
  let database: TestDatabase;
  let commands: Awaited<ReturnType<typeof startCli>>;
  let service: Service;
  let citizen: Awaited<ReturnType<typeof seedCitizen>>;

  const withDb = <T>(fn: (db: Db) => Promise<T>): Promise<T> => fn(database.db);

  async function cli(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    const { code, stdout, stderr } = await commands.cli(...args);
    return { code, out: stdout, err: stderr };
  }

  const eventTypes = () =>
    withDb(async (db) => {
      await fanOut(db, 'http://127.0.0.1:9/issuer');
      const rows = await db
        .selectFrom('event_deliveries')
        .select('event_type')
        .where('citizen_id', '=', citizen.id)
        .orderBy('id')
        .execute();
      return rows.map((r) => r.event_type);
    });

  before(async () => {
    database = await createTestDatabase();
    commands = await startCli(mode, database.db);
    await withDb(async (db) => {
      service = await seedService(db, ['name', 'address']);
      citizen = await seedCitizen(db);
      await consent(db, citizen.id, service);
    });
  });

  after(async () => {
    await commands?.close();
    await database?.drop();
  });

  test('disable, enable and delete an account by CPF or id; each reaches the consented service', async () => {
    const disabled = await cli('citizen', 'disable', citizen.cpf!);
    assert.equal(disabled.code, 0, disabled.err);
    assert.match(disabled.out, /disabled/);
    assert.match((await cli('citizen', 'disable', citizen.id)).out, /already disabled/);
    assert.equal((await cli('citizen', 'enable', citizen.id)).code, 0);
    const refused = await cli('citizen', 'delete', citizen.id);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /--yes/);
    assert.equal(
      await withDb(
        async (db) =>
          (
            await db
              .selectFrom('citizens')
              .select('status')
              .where('id', '=', citizen.id)
              .executeTakeFirstOrThrow()
          ).status,
      ),
      'active',
    );
    const deleted = await cli('citizen', 'delete', citizen.id, '--yes');
    assert.equal(deleted.code, 0, deleted.err);
    const row = await withDb((db) =>
      db
        .selectFrom('citizens')
        .select(['status', 'cpf'])
        .where('id', '=', citizen.id)
        .executeTakeFirstOrThrow(),
    );
    assert.deepEqual(row, { status: 'deleted', cpf: null });
    assert.deepEqual((await eventTypes()).slice(-3), [ACCOUNT_DISABLED, ACCOUNT_ENABLED, ACCOUNT_PURGED]);
    const unknown = await cli('citizen', 'disable', citizen.cpf!);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no such citizen/);
  });

  test('the operator sees a service queue, changes its delivery, replays and resumes it', async () => {
    const id = service.clientId;
    const set = await cli(
      'service',
      'delivery',
      id,
      '--method',
      'push',
      '--push-url',
      'http://127.0.0.1:9/events',
    );
    assert.equal(set.code, 0, set.err);
    const bad = await cli(
      'service',
      'delivery',
      id,
      '--method',
      'push',
      '--push-url',
      'http://example.test/events',
    );
    assert.equal(bad.code, 1);
    assert.match(bad.err, /pushUrl/);
    const queue = await cli('service', 'queue', id, '--json');
    assert.equal(queue.code, 0, queue.err);
    const view = JSON.parse(queue.out).queue;
    assert.equal(view.method, 'push');
    assert.equal(view.depth, 4, 'consent granted, disabled, enabled, purged');
    assert.equal(view.paused, false);
    assert.match((await cli('service', 'queue', id)).out, /pending:\s+4/);

    await withDb((db) =>
      db
        .updateTable('event_deliveries')
        .set({ status: 'sent', sent_at: new Date() })
        .where('client_id', '=', id)
        .execute(),
    );
    const replay = await cli('service', 'replay', id, '--since', '2000-01-01T00:00:00Z');
    assert.equal(replay.code, 0, replay.err);
    assert.match(replay.out, /^4 deliveries/);
    assert.equal((await cli('service', 'replay', id, '--since', 'yesterday')).code, 1);

    assert.match((await cli('service', 'resume', id)).out, /was not paused/);
    await withDb((db) =>
      db
        .updateTable('event_streams')
        .set({ paused_at: new Date(), consecutive_failures: 10 })
        .where('client_id', '=', id)
        .execute(),
    );
    assert.match((await cli('service', 'queue', id)).out, /paused:\s+yes/);
    assert.match((await cli('service', 'resume', id)).out, /resumed/);

    const credentials = await cli('service', 'broker-credentials', id);
    assert.equal(credentials.code, 1);
    assert.match(credentials.err, /rabbitmqctl set_permissions/);
    assert.equal((await cli('service', 'queue', 'no-such-service')).code, 1);
  });
});
