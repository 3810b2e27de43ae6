import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.ts';
import { fanOut } from '../../src/events/fan-out.ts';
import { CLAIMS_CHANGE } from '../../src/events/set-format.ts';
import { createCitizenStore, writeProfile } from '../../src/identity/citizen-store.ts';
import { createCredentialStore } from '../../src/identity/credential-store.ts';
import { createSecurityEvents } from '../../src/identity/security-events.ts';
import { enqueueMail, enqueueSms } from '../../src/messaging/message-queue.ts';
import { openCode } from '../../src/methods/code/code-store.ts';
import { createLoginThrottle } from '../../src/methods/password/login-throttle.ts';
import { passwordMethod } from '../../src/methods/password/password-method.ts';
import { createVerificationStore } from '../../src/methods/verifications.ts';
import { createAdapterClass } from '../../src/oidc/adapter.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createAccountActions, personalDataErasers } from '../../src/personal-data.ts';
import { createRateLimiter, RATE_LIMITS } from '../../src/platform/rate-limit.ts';
import type { Service } from '../../src/services/service-store.ts';
import { consent, seedCitizen, seedService } from '../events/event-helpers.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.ts';

const ISSUER = 'http://127.0.0.1:9/issuer';
const erasers = personalDataErasers(createProviderState());

/** Tables that hold rows by citizen (a citizen_id column, or account_id for the provider's rows). */
async function tablesByCitizen(db: Db): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select distinct c.table_name from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
      and c.column_name in ('citizen_id', 'account_id')
    order by 1`.execute(db);
  return ['citizens', ...rows.map((r) => r.table_name)];
}

/** The tables no eraser erases or retains with a reason. */
async function withoutEraser(db: Db): Promise<string[]> {
  const covered = new Set(
    erasers.flatMap((e) => [...Object.keys(e.erases), ...Object.keys(e.retains ?? {})]),
  );
  return (await tablesByCitizen(db)).filter((table) => !covered.has(table));
}

const count = async (db: Db, table: string, where: string, value: string) =>
  Number(
    (
      await sql<{
        n: string;
      }>`select count(*) as n from ${sql.table(table)} where ${sql.ref(where)} = ${value}`.execute(db)
    ).rows[0]!.n,
  );

describe('erasure by registration: every module that keeps personal data erases it on deletion', () => {
  let database: TestDatabase;
  let db: Db;
  let service: Service;

  before(async () => {
    database = await createTestDatabase();
    db = database.db;
    service = await seedService(db, ['name', 'email', 'phone_number', 'address']);
  });
  after(async () => {
    await database?.drop();
  });

  test('each table with a citizen id has an eraser, or is retained with a reason', async () => {
    assert.deepEqual(await withoutEraser(db), []);
    for (const eraser of erasers) {
      for (const [table, reason] of Object.entries(eraser.retains ?? {}))
        assert.ok(reason.length > 20, `${eraser.name} says why it keeps ${table}`);
    }
    const existing = new Set(
      (
        await sql<{
          table_name: string;
        }>`select table_name from information_schema.tables where table_schema = current_schema()`.execute(db)
      ).rows.map((r) => r.table_name),
    );
    for (const eraser of erasers) {
      for (const table of Object.keys(eraser.erases))
        assert.ok(existing.has(table), `${eraser.name} erases ${table}, which exists`);
    }
  });

  test('a new table with a citizen id and no eraser is caught', async () => {
    await sql`create table scratch_notes (id serial primary key, citizen_id text not null, note text)`.execute(
      db,
    );
    try {
      assert.deepEqual(await withoutEraser(db), ['scratch_notes']);
    } finally {
      await sql`drop table scratch_notes`.execute(db);
    }
  });

  test('deleting an account leaves nothing of it in any module, and nothing of anyone else goes', async () => {
    const phone = '+5541988887777';
    const target = await seedCitizen(db);
    const bystander = await seedCitizen(db);
    const citizens = createCitizenStore(db);
    const credentials = createCredentialStore(db);
    const limiter = createRateLimiter(db);
    const throttle = createLoginThrottle(db);
    const Adapter = createAdapterClass(db, async () => undefined);
    for (const citizen of [target, bystander]) {
      const c = (await citizens.findById(citizen.id))!;
      await consent(db, citizen.id, service);
      await db
        .transaction()
        .execute((trx) =>
          writeProfile(trx, c, { phone_number: citizen === target ? phone : '+5541977776666' }),
        );
      await citizens.addIdentifier(citizen.id, {
        kind: 'email',
        value: `segundo.${citizen.id}@example.test`,
      });
      await credentials.set(citizen.id, 'recovery_codes', { data: { remaining: 10 } });
      await db.transaction().execute(async (trx) => {
        await openCode(trx, {
          purpose: 'email_confirmation',
          citizenId: citizen.id,
          interactionUid: null,
          data: { channel: 'email', address: c.email },
        });
        await enqueueMail(trx, { to: c.email!.toUpperCase(), subject: 'Seu código', text: '123456' });
        await enqueueMail(trx, {
          to: `segundo.${citizen.id}@example.test`,
          subject: 'Seu código',
          text: '654321',
        });
      });
      await db
        .transaction()
        .execute((trx) =>
          enqueueSms(trx, { to: citizen === target ? phone : '+5541977776666', text: 'código 111111' }),
        );
      await limiter.hit(RATE_LIMITS.emailCodesPerCitizen, citizen.id);
      await createSecurityEvents(db).record({ citizenId: citizen.id, kind: 'sign_in', method: 'password', ip: '10.1.1.1' });
      await throttle.charge({
        account: `citizen:${citizen.id}`,
        address: `ip:10.1.1.${citizen === target ? 1 : 2}`,
      });
      await createVerificationStore(db).record({
        interactionUid: `uid-${citizen.id}`,
        citizenId: citizen.id,
        method: passwordMethod,
      });
      await new Adapter('Session').upsert(
        `session-${citizen.id}`,
        { accountId: citizen.id, authorizations: {} },
        3600,
      );
      await new Adapter('AccessToken').upsert(
        `at-${citizen.id}`,
        { accountId: citizen.id, clientId: service.clientId },
        3600,
      );
    }
    await fanOut(db, ISSUER);
    const column = (table: string) =>
      table === 'citizens' ? 'id' : table === 'oidc_payloads' ? 'account_id' : 'citizen_id';
    const tables = await tablesByCitizen(db);
    const rowsOf = async (citizenId: string) =>
      Object.fromEntries(
        await Promise.all(tables.map(async (t) => [t, await count(db, t, column(t), citizenId)] as const)),
      );
    const targetBefore = await rowsOf(target.id);
    const bystanderBefore = await rowsOf(bystander.id);
    for (const table of [
      'identifiers',
      'credentials',
      'flows',
      'consents',
      'consent_current',
      'events',
      'event_deliveries',
      'oidc_payloads',
      'security_events',
    ]) {
      assert.ok(targetBefore[table]! > 0, `the target has rows in ${table} before the deletion`);
    }

    assert.equal(await createAccountActions(db).purge(target.id), 'done');

    // Every table that keeps rows by citizen: none left for the target unless its eraser blanks
    // them or retains them; the bystander's rows all stay.
    const targetAfter = await rowsOf(target.id);
    for (const table of tables) {
      const mode = erasers.map((e) => e.erases[table]).find(Boolean);
      if (mode === 'deleted') assert.equal(targetAfter[table], 0, `${table}: the target's rows are gone`);
    }
    assert.deepEqual(await rowsOf(bystander.id), bystanderBefore, "the bystander's rows are untouched");
    const row = await db
      .selectFrom('citizens')
      .selectAll()
      .where('id', '=', target.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(
      { status: row.status, cpf: row.cpf, name: row.name, phone: row.phone_number, profile: row.profile },
      { status: 'deleted', cpf: null, name: '', phone: null, profile: {} },
    );
    const events = await db
      .selectFrom('events')
      .select(['type', 'data'])
      .where('citizen_id', '=', target.id)
      .execute();
    assert.doesNotMatch(
      JSON.stringify(events),
      /88887777|example\.test|Maria/,
      'no value left in the outbox',
    );
    const deliveries = await db
      .selectFrom('event_deliveries')
      .select(['event_type', 'payload'])
      .where('citizen_id', '=', target.id)
      .where('event_type', '=', CLAIMS_CHANGE)
      .execute();
    assert.ok(deliveries.every((d) => d.payload === null));
    assert.ok((await count(db, 'consents', 'citizen_id', target.id)) > 0, 'consent evidence is retained');
    // Rows named by the citizen without a citizen_id column: the throttle, the counters, the messages.
    assert.equal(await count(db, 'login_throttle', 'key', `citizen:${target.id}`), 0);
    assert.equal(await count(db, 'login_throttle', 'key', `citizen:${bystander.id}`), 1);
    assert.equal(await count(db, 'rate_limits', 'key', `email-code:${target.id}`), 0);
    assert.equal(await count(db, 'rate_limits', 'key', `email-code:${bystander.id}`), 1);
    const recipients = (await db.selectFrom('messages').select('recipient').execute()).map((m) =>
      m.recipient.toLowerCase(),
    );
    assert.ok(
      !recipients.some(
        (r) => r === target.email!.toLowerCase() || r.includes(target.id.toLowerCase()) || r === phone,
      ),
    );
    assert.equal(
      recipients.filter(
        (r) =>
          r === bystander.email!.toLowerCase() ||
          r.includes(bystander.id.toLowerCase()) ||
          r === '+5541977776666',
      ).length,
      3,
    );
    // The bystander still signs in with everything they had.
    assert.equal((await citizens.findByIdentifier(bystander.email!))?.id, bystander.id);
    assert.equal(await citizens.findByIdentifier(target.email!), undefined);
    assert.equal((await credentials.list(bystander.id)).length, 2);
  });
});
