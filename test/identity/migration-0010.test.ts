import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrator.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';

const MIGRATIONS = new URL('../../migrations/', import.meta.url).pathname;

// A database of its own, not the migrated template: the test needs the schema as it was before
// 0010, with rows in it. PostgreSQL when DATABASE_URL is set, else an embedded one.
let handle: DatabaseHandle;
let earlier: string;
let dropDatabase = async () => {};

async function emptyDatabase(): Promise<DatabaseHandle> {
  const base = process.env.DATABASE_URL;
  if (!base) return openDatabase({ inMemory: true });
  const name = `cdl_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  dropDatabase = async () => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    await c.query(`drop database if exists ${name} with (force)`);
    await c.end();
  };
  const url = new URL(base);
  url.pathname = `/${name}`;
  return openDatabase({ databaseUrl: url.href, poolSize: 2 });
}

before(async () => {
  earlier = mkdtempSync(join(tmpdir(), 'cidadela-migrations-'));
  for (const file of readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql') && f < '0010')) {
    copyFileSync(join(MIGRATIONS, file), join(earlier, file));
  }
  handle = await emptyDatabase();
  await migrate(handle.db, earlier);
});

after(async () => {
  await handle?.close();
  await dropDatabase();
  rmSync(earlier, { recursive: true, force: true });
});

test('0010 moves identifiers and password hashes out of citizens, and names the owners of provider rows', async () => {
  const { db } = handle;
  await sql`insert into citizens (id, cpf, email, email_verified, name, phone_number, phone_number_verified, password_hash, created_at)
    values
      ('ana', '52998224725', 'Ana@Example.test', true, 'Ana', '+5541999990001', true, '$argon2id$ana', now() - interval '2 days'),
      ('bia', null, 'bia@example.test', false, 'Bia', '+5541999990001', true, null, now() - interval '1 day'),
      ('cid', null, 'cid@deleted.invalid', false, '', null, false, null, now())`.execute(db);
  await sql`update citizens set status = 'deleted' where id = 'cid'`.execute(db);
  await sql`insert into oidc_payloads (model, id, payload) values
    ('Session', 's1', '{"accountId": "ana", "authorizations": {}}'),
    ('AccessToken', 'a1', '{"accountId": "ana", "clientId": "school"}'),
    ('Interaction', 'i1', '{"session": {"accountId": "ana"}, "params": {"client_id": "school"}}'),
    ('Interaction', 'i2', '{"params": {"client_id": "health"}}')`.execute(db);

  await migrate(db);

  const identifiers = await db
    .selectFrom('identifiers')
    .select(['citizen_id', 'kind', 'value', 'verified', 'verified_at'])
    .orderBy('citizen_id')
    .orderBy('kind')
    .execute();
  assert.deepEqual(
    identifiers.map((i) => [i.citizen_id, i.kind, i.value, i.verified, i.verified_at !== null]),
    [
      ['ana', 'cpf', '52998224725', false, false],
      ['ana', 'email', 'Ana@Example.test', true, true],
      ['ana', 'phone', '+5541999990001', true, true],
      // Proven by both before it had to be unique: the older account keeps it as a sign-in.
      ['bia', 'email', 'bia@example.test', false, false],
      ['bia', 'phone', '+5541999990001', false, false],
    ],
  );
  const credentials = await db
    .selectFrom('credentials')
    .select(['citizen_id', 'type', 'secret', 'version'])
    .execute();
  assert.deepEqual(credentials, [
    { citizen_id: 'ana', type: 'password', secret: '$argon2id$ana', version: 1 },
  ]);
  const columns = await sql<{ column_name: string }>`select column_name from information_schema.columns
    where table_name = 'citizens' and column_name = 'password_hash'`.execute(db);
  assert.deepEqual(columns.rows, [], 'the hash no longer sits beside the profile');

  const owners = await db
    .selectFrom('oidc_payloads')
    .select(['id', 'account_id', 'client_id'])
    .orderBy('id')
    .execute();
  assert.deepEqual(owners, [
    { id: 'a1', account_id: 'ana', client_id: 'school' },
    { id: 'i1', account_id: 'ana', client_id: 'school' },
    { id: 'i2', account_id: null, client_id: 'health' },
    { id: 's1', account_id: 'ana', client_id: null },
  ]);
  await db.transaction().execute((trx) => createProviderState().endAccountSessions(trx, 'ana'));
  assert.deepEqual(
    (await db.selectFrom('oidc_payloads').select('id').execute()).map((r) => r.id),
    ['i2'],
  );
});
