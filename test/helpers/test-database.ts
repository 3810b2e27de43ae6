import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
 * PGlite takes seconds to create and migrate, so one migrated template is dumped per set of
 * migrations and every test database starts as a copy of it.
 */
async function pgliteTemplate(): Promise<Blob> {
  return new Blob([readFileSync(await pgliteTemplateFile())]);
}

/** The template's file (built on first use), for tests that unpack it into a data directory. */
export async function pgliteTemplateFile(): Promise<string> {
  const file = join(TEMPLATE_DIR, `pglite-${migrationsHash()}.tar.gz`);
  if (!existsSync(file)) {
    mkdirSync(TEMPLATE_DIR, { recursive: true });
    const source = await PGlite.create();
    const db = new Kysely<Database>({ dialect: pgliteDialect(source) });
    await migrate(db);
    const dump = await source.dumpDataDir('gzip');
    await source.close();
    // Several test processes may build it at once: each writes its own file, the last rename wins.
    const tmp = `${file}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, file);
  }
  return file;
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
  const handle = await openDatabase({ inMemory: true, pgliteTemplate: await pgliteTemplate() });
  return { ...handle, url: undefined, drop: () => handle.close() };
}
