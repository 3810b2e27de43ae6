import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { type Listen, pgNotifications, pgliteNotifications } from './notifications.ts';
import { pgliteDialect } from './pglite-dialect.ts';
import { type LockRole, lockDataDir } from './pglite-lock.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

export type DatabaseHandle = {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** The DATA_DIR whose embedded database this handle holds (locked until close); absent otherwise. */
  dataDir?: string;
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
  /** Who takes DATA_DIR's lock (src/db/pglite-lock.ts): a server, or a command ("cidadela service add"). */
  lockAs?: { role: LockRole; what: string };
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
  if (options.inMemory) return pgliteHandle(await createPglite(options, undefined), undefined);
  const home = resolve(options.dataDir ?? './data');
  const dataDir = join(home, 'pglite');
  mkdirSync(dataDir, { recursive: true });
  // Throws DataDirBusyError while another process has it: two PGlite instances on one folder lose writes.
  const lock = lockDataDir(home, options.lockAs?.role ?? 'command', options.lockAs?.what ?? 'cidadela');
  let pglite: PGlite;
  try {
    pglite = await createPglite(options, dataDir);
  } catch (error) {
    lock.release();
    throw error;
  }
  return pgliteHandle(pglite, home, lock.release);
}

function createPglite(options: DatabaseOptions, dataDir: string | undefined): Promise<PGlite> {
  return PGlite.create({
    ...(dataDir ? { dataDir } : {}),
    ...(options.pgliteTemplate ? { loadDataDir: options.pgliteTemplate } : {}),
    parsers: { [DATE_OID]: (v: string) => v, [INT8_OID]: (v: string) => v },
  });
}

function pgliteHandle(pglite: PGlite, dataDir: string | undefined, release?: () => void): DatabaseHandle {
  const db = new Kysely<Database>({ dialect: pgliteDialect(pglite) });
  return {
    db,
    kind: 'pglite',
    ...(dataDir ? { dataDir } : {}),
    ping: async () => {
      await pglite.query('select 1');
    },
    listen: pgliteNotifications(pglite, db).listen,
    close: async () => {
      try {
        await db.destroy();
      } finally {
        release?.();
      }
    },
  };
}
