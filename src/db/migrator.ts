import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Db } from './database.ts';

const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url).pathname;
// Any constant works; it only has to be the same in every copy of the server.
const MIGRATION_LOCK = 7_301_944_211;

/** Applies forward-only SQL migrations in name order; safe with several servers starting at once. */
export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const applied: string[] = [];
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`create table if not exists schema_migrations (
      name text primary key, applied_at timestamptz not null default now())`.execute(trx);
    const done = await sql<{ name: string }>`select name from schema_migrations`.execute(trx);
    const have = new Set(done.rows.map((r) => r.name));
    for (const file of files) {
      if (have.has(file)) continue;
      await sql.raw(readFileSync(join(dir, file), 'utf8')).execute(trx);
      await sql`insert into schema_migrations (name) values (${file})`.execute(trx);
      applied.push(file);
    }
  });
  return applied;
}
