/**
 * `npm run bench:usage`: the usage reports at the reference system's volume (issue 13). A year of
 * 20 million accesses (1.7 million a month) over 25 services is seeded as the daily counters the
 * sign-in path keeps (what recording those accesses would have left), with 780,000 accounts for the
 * registrations and the level distribution; then a server is started on that database and a month's
 * report for all services, and for one, is fetched as an auditor would. Also measures the one
 * statement an access adds (recordAccess) on those tables. Writes its section of docs/benchmarks.md.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { migrate } from '../src/db/migrator.ts';
import { recordAccess } from '../src/console/usage.ts';
import { createLogger } from '../src/platform/logger.ts';
import { consoleSignIn, seedOperator } from '../test/helpers/operators.ts';
import { freePort, TEST_SECRET } from '../test/helpers/test-app.ts';
import { createBenchDatabase } from './lib/database.ts';

const ACCESSES_PER_YEAR = 20_000_000;
const SERVICES = 25;
const ACCOUNTS = 780_000;
const REPORTS = 20;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const bench = await createBenchDatabase({ pglite: false, databaseUrl: process.env.DATABASE_URL });
const handle = await bench.open();
try {
  const { db } = handle;
  await migrate(db);
  let t0 = performance.now();
  await sql`insert into citizens (id, email, email_verified, name, status, trust_level, created_at)
    select 'bench-' || i, 'b' || i || '@bench.example', true, 'Cidadã ' || i, 'active',
      (array['bronze','bronze','bronze','prata','ouro'])[1 + i % 5], now() - (i % 365) * interval '1 day'
    from generate_series(1, ${ACCOUNTS}) as i`.execute(db);
  for (let s = 1; s <= SERVICES; s++) {
    await sql`insert into services (client_id, name, redirect_uris) values (${`svc-${s}`}, ${`Serviço ${s}`}, ${['https://svc.example/cb']})`.execute(db);
  }
  // A year of days: each day's accesses spread over the services (uneven, as real services are)
  // and the methods; the overall row ('') is their sum, as recordAccess keeps it.
  const perDay = Math.round(ACCESSES_PER_YEAR / 365);
  await sql`
    with days as (select (now() at time zone 'America/Sao_Paulo')::date - d as day from generate_series(0, 364) as d),
    per_service as (
      select day, 'svc-' || s as client_id, m.metric, (${perDay} * (2.0 * s / (${SERVICES} * (${SERVICES} + 1))) * m.share)::bigint as n
      from days, generate_series(1, ${SERVICES}) as s,
        (values ('signin_password', 0.55), ('signin_sso', 0.35), ('signin_certificate', 0.04), ('signin_code', 0.01), ('unique_citizens', 0.05)) as m(metric, share)
    )
    insert into usage_daily (day, client_id, metric, n)
    select day, client_id, metric, n from per_service
    union all select day, '', metric, sum(n) from per_service group by day, metric`.execute(db);
  // This month's "already counted" rows: what the next access's insert meets.
  await sql`insert into usage_seen (month, client_id, citizen_id)
    select date_trunc('month', now() at time zone 'America/Sao_Paulo')::date, 'svc-' || (1 + i % ${SERVICES}), 'bench-' || (1 + i % ${ACCOUNTS})
    from generate_series(1, 1500000) as i on conflict do nothing`.execute(db);
  await sql`analyze`.execute(db);
  const seeded = await sql<{ accesses: string; rows: string; seen: string }>`
    select (select sum(n) from usage_daily where client_id = '' and metric like 'signin_%') as accesses,
      (select count(*) from usage_daily) as rows, (select count(*) from usage_seen) as seen`.execute(db);
  const seedSeconds = (performance.now() - t0) / 1000;

  // The statement an access adds, on these tables.
  const writes: number[] = [];
  for (let i = 0; i < 2000; i++) {
    t0 = performance.now();
    await recordAccess(db, { citizenId: `bench-${1 + ((i * 7919) % ACCOUNTS)}`, clientId: `svc-${1 + (i % SERVICES)}`, method: 'password' });
    writes.push(performance.now() - t0);
  }

  const port = await freePort();
  const config = loadConfig({ NODE_ENV: 'test', PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, SECRET_KEY: TEST_SECRET, LOG_LEVEL: 'silent', DEMO: 'off', RELAY: 'off', KEYS_RELOAD_SECONDS: '0' });
  const app = await createApp(config, { database: handle, logger: createLogger('silent') });
  const url = await app.listen();
  const auditor = await seedOperator(db, ['auditor']);
  const { ua } = await consoleSignIn(url, auditor);
  const month = new Date(Date.now() - 3 * 3600_000).toISOString().slice(0, 7);
  const times: Record<string, number[]> = { all: [], one: [] };
  for (let i = 0; i < REPORTS; i++) {
    for (const [key, query] of [['all', `mes=${month}`], ['one', `mes=${month}&servico=svc-25`]] as const) {
      t0 = performance.now();
      const page = await ua.get(`${url}/admin/relatorios?${query}`);
      times[key]!.push(performance.now() - t0);
      if (page.status !== 200) throw new Error(`report answered ${page.status}`);
    }
  }
  await app.close();

  const pg = (await sql<{ v: string }>`select version() as v`.execute(db)).rows[0]!.v.split(' ').slice(0, 2).join(' ');
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const section = `<!-- bench-usage:begin (written by npm run bench:usage; edit outside these markers) -->
## Usage reports at a year of accesses

Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:usage\` on ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${pg}; load average at the end ${(await import('node:os')).loadavg()[0]!.toFixed(1)}.
Seeded: ${Number(seeded.rows[0]!.accesses).toLocaleString('en')} accesses over a year and ${SERVICES} services as ${Number(seeded.rows[0]!.rows).toLocaleString('en')} daily counter rows, ${ACCOUNTS.toLocaleString('en')} accounts, ${Number(seeded.rows[0]!.seen).toLocaleString('en')} "counted this month" rows (${seedSeconds.toFixed(0)} s).

| measure | result | target |
| --- | --- | --- |
| a month's report for all services (page, ${REPORTS} fetches, signed in as an auditor) | median **${ms(pct(times.all!, 50))}**, max ${ms(Math.max(...times.all!))} | < 1 s ${Math.max(...times.all!) < 1000 ? '✔' : '✘'} |
| a month's report for one service | median **${ms(pct(times.one!, 50))}**, max ${ms(Math.max(...times.one!))} | < 1 s ${Math.max(...times.one!) < 1000 ? '✔' : '✘'} |
| the statement an access adds (\`recordAccess\`, 2000 in a row) | p50 **${pct(writes, 50).toFixed(2)} ms**, p99 ${pct(writes, 99).toFixed(2)} ms | one cheap statement |

The report reads only the daily counters (a month is ${SERVICES + 1} × 31 × 5 rows at most), registrations by an index range on
\`citizens.created_at\`, and the level distribution by one count over the accounts (the largest part of the overall page).
<!-- bench-usage:end -->`;
  console.log(section);
  const doc = readFileSync('docs/benchmarks.md', 'utf8');
  const begin = doc.indexOf('<!-- bench-usage:begin');
  const end = doc.indexOf('<!-- bench-usage:end -->');
  writeFileSync('docs/benchmarks.md', begin >= 0 && end > begin ? doc.slice(0, begin) + section + doc.slice(end + '<!-- bench-usage:end -->'.length) : `${doc.trimEnd()}\n\n${section}\n`);
} finally {
  await handle.close();
  await bench.drop();
}
