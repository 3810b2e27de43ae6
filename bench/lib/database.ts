import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrator.ts';
import { cpfFromBase } from '../../src/identity/cpf.ts';
import { randomId } from '../../src/security/secrets.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore } from '../../src/services/service-store.ts';

export const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Where the bench keeps its data: a fresh PostgreSQL database, or a PGlite directory in /tmp. */
export type BenchDatabase = {
  kind: 'postgres' | 'pglite';
  /** For the report: the database name or directory (no credentials). */
  label: string;
  /** Text in the command line of this database's PostgreSQL backends (none for PGlite: it runs inside the server). */
  processMatch: string | undefined;
  /** Environment for the server child: DATABASE_URL, or DATA_DIR for PGlite. */
  serverEnv: Record<string, string>;
  /** The bench's own connection (seeding, statistics); closed before a PGlite server starts. */
  open(): Promise<DatabaseHandle>;
  /** Drops the database or removes the directory; safe to call twice. */
  drop(): Promise<void>;
};

function redact(url: URL): string {
  const u = new URL(url.href);
  u.password = '';
  return `${u.host}${u.pathname}`;
}

export async function createBenchDatabase(options: {
  pglite: boolean;
  databaseUrl: string | undefined;
}): Promise<BenchDatabase> {
  if (options.pglite) {
    const dir = mkdtempSync(join(tmpdir(), 'cidadela-bench-'));
    let dropped = false;
    return {
      kind: 'pglite',
      label: `PGlite in ${dir}`,
      processMatch: undefined,
      serverEnv: { DATA_DIR: dir },
      open: () => openDatabase({ dataDir: dir }),
      async drop() {
        if (dropped) return;
        dropped = true;
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const base = new URL(options.databaseUrl || DEFAULT_POSTGRES);
  const name = `cidadela_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.href });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base.href);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    kind: 'postgres',
    label: redact(url),
    processMatch: ` ${name} `,
    serverEnv: { DATABASE_URL: url.href },
    open: () => openDatabase({ databaseUrl: url.href, poolSize: 4 }),
    async drop() {
      if (dropped) return;
      dropped = true;
      const c = new pg.Client({ connectionString: base.href });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

export type SeededCitizen = { index: number; cpf: string };

/** Citizen i of the seed: its CPF is made from base 100000000 + i, so it is valid and unique. */
export function seededCitizen(index: number): SeededCitizen {
  return { index, cpf: cpfFromBase(String(100_000_000 + index)) };
}

/**
 * Migrates and seeds `count` active citizens with verified e-mail, their identifiers and password
 * credential (and the finished e-mail confirmation flow each registration leaves behind), all with
 * the same argon2id hash
 * (computed once by the caller with the real hasher: hashing 100,000 passwords one by one would
 * take about half an hour on two cores). Multi-row INSERT … SELECT FROM unnest(…), 5,000 rows a
 * statement.
 */
export async function seedCitizens(
  handle: DatabaseHandle,
  count: number,
  passwordHash: string,
): Promise<void> {
  const { db } = handle;
  await migrate(db);
  const batch = 5_000;
  for (let start = 0; start < count; start += batch) {
    const ids: string[] = [];
    const cpfs: string[] = [];
    const emails: string[] = [];
    const names: string[] = [];
    const uids: string[] = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      ids.push(randomId(18));
      cpfs.push(seededCitizen(i).cpf);
      emails.push(`cidada.${i}@bench.example`);
      names.push(`Cidadã de Teste ${i}`);
      uids.push(randomId(16));
    }
    await sql`insert into citizens (id, cpf, email, email_verified, name, birthdate, locale)
      select id, cpf, email, true, name, date '1985-06-15', 'pt-BR'
      from unnest(${ids}::text[], ${cpfs}::text[], ${emails}::text[], ${names}::text[]) as t(id, cpf, email, name)`.execute(
      db,
    );
    // What the identity store writes beside each citizen: its identifiers and its password.
    await sql`insert into identifiers (citizen_id, kind, value, verified, verified_at)
      select id, 'cpf', cpf, false, null from unnest(${ids}::text[], ${cpfs}::text[]) as t(id, cpf)
      union all
      select id, 'email', email, true, now() from unnest(${ids}::text[], ${emails}::text[]) as t(id, email)`.execute(db);
    await sql`insert into credentials (id, citizen_id, type, secret)
      select id || '-p', id, 'password', ${passwordHash} from unnest(${ids}::text[]) as t(id)`.execute(db);
    // Each of them registered through an e-mail confirmation, whose flow row stays behind.
    await sql`insert into flows (id, kind, state, citizen_id, interaction_uid, data, expires_at, created_at, updated_at)
      select id || '-f', 'email_verification', 'done', id, uid, '{}', now() - interval '30 days',
        now() - interval '31 days', now() - interval '31 days'
      from unnest(${ids}::text[], ${uids}::text[]) as t(id, uid)`.execute(db);
  }
  await sql`analyze`.execute(db);
}

/** Registers the bench's service through the service store, as an operator would. */
export async function addBenchService(handle: DatabaseHandle, redirectUri: string) {
  const { service, clientSecret } = await createServiceStore(handle.db, { provider: createProviderState() }).add({
    name: 'Serviço de carga',
    description: 'Benchmark service (bench/run.ts)',
    redirectUris: [redirectUri],
    termsMarkdown: '# Termos de uso\n\nServiço usado só para medir desempenho.',
    // A typical contract: the seeded citizens have every required field, so consent asks for nothing.
    fields: [
      { key: 'name', required: true, purpose: 'para identificar você' },
      { key: 'email', required: true, purpose: 'para enviar avisos' },
      { key: 'cpf', required: true, purpose: 'para cruzar com o cadastro municipal' },
      { key: 'birthdate', required: false, purpose: 'para calcular a idade' },
    ],
  });
  if (!clientSecret) throw new Error('the bench service got no client secret');
  return { clientId: service.clientId, clientSecret };
}

/** Counters from pg_stat_database, to tell how much database work an operation costs. */
export type DbCounters = {
  xactCommit: number;
  tupReturned: number;
  tupFetched: number;
  tupInserted: number;
  tupUpdated: number;
  tupDeleted: number;
  /** Per table: sequential scans and the rows they read (a missing index shows here). */
  tables: Record<string, { seqScan: number; seqTupRead: number }>;
};

export async function dbCounters(handle: DatabaseHandle): Promise<DbCounters | undefined> {
  if (handle.kind !== 'postgres') return undefined;
  const r = await sql<
    Record<string, string>
  >`select xact_commit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
    from pg_stat_database where datname = current_database()`.execute(handle.db);
  const row = r.rows[0];
  if (!row) return undefined;
  const t = await sql<{ relname: string; seq_scan: string; seq_tup_read: string }>`
    select relname, seq_scan, seq_tup_read from pg_stat_user_tables`.execute(handle.db);
  const tables: DbCounters['tables'] = {};
  for (const x of t.rows)
    tables[x.relname] = { seqScan: Number(x.seq_scan), seqTupRead: Number(x.seq_tup_read) };
  return {
    tables,
    xactCommit: Number(row.xact_commit),
    tupReturned: Number(row.tup_returned),
    tupFetched: Number(row.tup_fetched),
    tupInserted: Number(row.tup_inserted),
    tupUpdated: Number(row.tup_updated),
    tupDeleted: Number(row.tup_deleted),
  };
}
