import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrator.ts';
import { pgliteDialect } from '../../src/db/pglite-dialect.ts';
import type { Database } from '../../src/db/schema.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const TEMPLATE_DIR = join(ROOT, '.test-data');

/** PostgreSQL when DATABASE_URL is set (CI), PGlite otherwise. */
export const usingPostgres = Boolean(process.env.DATABASE_URL);

function migrationsHash(): string {
  const dir = join(ROOT, 'migrations');
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  return h.digest('hex').slice(0, 16);
}

/**
 * PGlite takes seconds to create and migrate, so one migrated data directory is kept per set of
 * migrations (`.test-data/pglite-<hash>/`) and every test database starts as a copy of it: a file
 * copy (a quarter second) where unpacking a dump into PGlite's memory cost more than a second of CPU.
 */
export async function pgliteTemplateDir(): Promise<string> {
  const dir = join(TEMPLATE_DIR, `pglite-${migrationsHash()}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  mkdirSync(TEMPLATE_DIR, { recursive: true });
  // Several test processes may build it at once: each builds its own, the first rename wins.
  const building = `${dir}.${randomBytes(4).toString('hex')}`;
  const source = await PGlite.create({ dataDir: building });
  const db = new Kysely<Database>({ dialect: pgliteDialect(source) });
  await migrate(db);
  await db.destroy();
  try {
    renameSync(building, dir);
  } catch {
    rmSync(building, { recursive: true, force: true });
  }
  return dir;
}

/** A new directory holding a copy of the migrated template under `pglite/`, as DATA_DIR has it. */
export async function copyOfTemplate(prefix = 'cidadela-test-'): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), prefix));
  cpSync(await pgliteTemplateDir(), join(home, 'pglite'), { recursive: true });
  return home;
}

export type TestDatabase = DatabaseHandle & { url: string | undefined; drop(): Promise<void> };

/** A fresh, migrated database of its own for one test file (or one test). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = process.env.DATABASE_URL;
  if (base) {
    const name = `cdl_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = new URL(base);
    url.pathname = `/${name}`;
    const handle = await openDatabase({ databaseUrl: url.href, poolSize: 10 });
    await migrate(handle.db);
    return {
      ...handle,
      url: url.href,
      async drop() {
        await handle.close();
        const c = new pg.Client({ connectionString: base });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
      },
    };
  }
  const home = await copyOfTemplate('cidadela-db-');
  // A marker so a reader knows what the directory is if a crash leaves it behind.
  writeFileSync(join(home, 'README'), 'temporary Cidadela test data; safe to delete\n');
  const handle = await openDatabase({ dataDir: home });
  return {
    ...handle,
    url: undefined,
    async drop() {
      await handle.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
