import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { type Listen, pgNotifications, pgliteNotifications } from './notifications.ts';
import { pgliteDialect } from './pglite-dialect.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

export type DatabaseHandle = {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Checks that the database answers (for /readyz). */
  ping(): Promise<void>;
  /** LISTEN/NOTIFY (notifications.ts): wakes the relay and long polls on a commit. Absent: they poll. */
  listen?: Listen;
  close(): Promise<void>;
};

const DATE_OID = 1082;
const INT8_OID = 20;

export type DatabaseOptions = {
  databaseUrl?: string | undefined;
  dataDir?: string;
  /** A PGlite data-dir dump to start from (tests copy one migrated template). */
  pgliteTemplate?: Blob | File;
  /** Keep PGlite in memory instead of DATA_DIR. */
  inMemory?: boolean;
  poolSize?: number;
};

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
          if (oid === DATE_OID) return (v: string) => v;
          if (oid === INT8_OID) return (v: string) => v;
          return pg.types.getTypeParser(oid, format);
        }) as typeof pg.types.getTypeParser,
      },
    });
    // A client losing its server must not crash the process: an idle one is dropped by the pool
    // (its 'error'), a checked-out one fails its query, which the caller sees (a 503, not an
    // uncaught 'error' event that ends every request the process is serving).
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const notifications = pgNotifications(options.databaseUrl);
    return {
      db,
      kind: 'postgres',
      ping: async () => {
        await pool.query('select 1');
      },
      listen: notifications.listen,
      close: async () => {
        await notifications.close();
        await db.destroy();
      },
    };
  }
  let dataDir: string | undefined;
  if (!options.inMemory) {
    dataDir = join(options.dataDir ?? './data', 'pglite');
    mkdirSync(dataDir, { recursive: true });
  }
  const pglite = await PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    ...(options.pgliteTemplate ? { loadDataDir: options.pgliteTemplate } : {}),
    parsers: { [DATE_OID]: (v: string) => v, [INT8_OID]: (v: string) => v },
  });
  const db = new Kysely<Database>({ dialect: pgliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    ping: async () => {
      await pglite.query('select 1');
    },
    listen: pgliteNotifications(pglite, db).listen,
    close: () => db.destroy(),
  };
}
