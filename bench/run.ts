/**
 * `npm run bench`: measures one Cidadela server on this machine, end to end, in one command.
 *
 * It creates a fresh database, seeds citizens, starts `node src/main.ts serve` as a child process
 * (NODE_ENV=production) on loopback, and drives it with a keep-alive HTTP client in this process:
 * /healthz (the HTTP baseline), argon2id verifications (the password ceiling, in this process while
 * the server idles), full password logins, SSO logins, refresh-token rotations and userinfo. It prints
 * a table, writes bench/results/latest.json and updates docs/benchmarks.md. The child server is always
 * stopped and the database always dropped, on success, error, SIGINT or SIGTERM.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import type { DatabaseHandle } from '../src/db/database.ts';
import { cpfFromBase } from '../src/identity/cpf.ts';
import { ARGON2_PARAMS, createPasswordHasher } from '../src/methods/password/password-hasher.ts';
import {
  addBenchService,
  createBenchDatabase,
  type DbCounters,
  dbCounters,
  seedCitizens,
  seededCitizen,
} from './lib/database.ts';
import { createHttp } from './lib/http.ts';
import { type PhaseResult, readMemory, runPhase, waitForQuiet } from './lib/load.ts';
import { machineInfo } from './lib/machine.ts';
import { createRp, type LoginResult, type Tokens } from './lib/oidc.ts';
import { formatProfile, summariseProfile } from './lib/profile.ts';
import {
  formatRecoveryTiming,
  measureRecoveryTiming,
  prepareKnownAccounts,
  type RecoveryTiming,
  writeRecoveryTimingDoc,
} from './lib/recovery-timing.ts';
import {
  type BenchReport,
  type Target,
  tableRows,
  targetLines,
  textTable,
  writeBenchmarksDoc,
} from './lib/report.ts';
import { type Peer, peerSessions, startPeer } from './lib/peer.ts';
import { freePort, type ServerChild, startServer } from './lib/server.ts';
import { tokenLoads } from './lib/token-phases.ts';
import { formatTraces, type SqlTrace, traceSql } from './lib/trace-sql.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const ALL_PHASES = ['healthz', 'argon2', 'login', 'sso', 'refresh', 'userinfo'] as const;
type PhaseName = (typeof ALL_PHASES)[number];

const HELP = `npm run bench [-- options]

  --quick                  short phases (6 s measured, 2 s warm-up, 5 s idle wait, a pool of 64,
                           no recovery timing): a run in a few minutes, for comparing a change with the peer
  --duration S             measured seconds per phase (default 15)
  --warmup S               unrecorded warm-up seconds before each phase (default 3)
  --citizens N             citizens to seed (default 100000)
  --pool N                 citizens logged in (and consenting) in the untimed first pass; the
                           login phase cycles through them, each time in a new browser (default 400)
  --phases a,b,...         subset of ${ALL_PHASES.join(',')} (default: all)
  --concurrency-<phase> N  workers per phase (defaults: healthz 32, argon2 8, login 16, sso 16,
                           refresh 16, userinfo 32)
  --no-peer                skip the peer: a bare oidc-provider (bench/peer/server.ts, in-memory
                           adapter) that gets the same SSO, refresh and userinfo load right after
                           Cidadela's phase; the table reports Cidadela ÷ peer
  --peer-pool N            browsers signed in at the peer (default 32; its in-memory store keeps
                           1,000 entries, so a larger pool loses sessions)
  --pglite                 run the server on PGlite (in a temporary DATA_DIR) instead of PostgreSQL
  --profile                run the server with --cpu-prof and print where its CPU time went
  --no-docs                do not update docs/benchmarks.md
  --recovery-rounds N      known and unknown CPFs each in the recovery timing section (default 100; 0: skip)
  --recovery-only          only the recovery timing section (no phases, no SQL trace; seeds at most
                           2,000 citizens unless more rounds need more) and its part of docs/benchmarks.md
  --no-trace               skip listing the SQL statements of one operation of each kind
  --wait-idle S            before each phase, wait up to S seconds for other processes to leave
                           the cores alone (default 60); the table shows what they used anyway
  --max-minutes M          abort (and clean up) after M minutes (default 30)

PostgreSQL: DATABASE_URL's server if set, else postgres://postgres@127.0.0.1:5432; a fresh database
cidadela_bench_<random> is created there and dropped at the end.`;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'no-peer': { type: 'boolean', default: false },
    'peer-pool': { type: 'string', default: '32' },
    citizens: { type: 'string', default: '100000' },
    pool: { type: 'string' },
    phases: { type: 'string', default: ALL_PHASES.join(',') },
    'concurrency-healthz': { type: 'string', default: '32' },
    'concurrency-argon2': { type: 'string', default: '8' },
    'concurrency-login': { type: 'string', default: '16' },
    'concurrency-sso': { type: 'string', default: '16' },
    'concurrency-refresh': { type: 'string', default: '16' },
    'concurrency-userinfo': { type: 'string', default: '32' },
    pglite: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'no-docs': { type: 'boolean', default: false },
    'no-trace': { type: 'boolean', default: false },
    'recovery-rounds': { type: 'string' },
    'recovery-only': { type: 'boolean', default: false },
    'max-minutes': { type: 'string', default: '30' },
    'wait-idle': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

// Cleanup runs once, in reverse order, whatever ends the run.
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        log(`cleanup: ${(error as Error).message}`);
      }
    }
  })();
  return cleaning;
}
let child: ServerChild | undefined;
process.on('exit', () => {
  // Last resort (the async cleanup did not get to run): never leave the server behind.
  if (child && !child.exited()) process.kill(child.pid, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`\n${signal}: stopping the server and dropping the bench database…`);
    cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  if (args.help) {
    log(HELP);
    return 0;
  }
  const quick = args.quick!;
  const durationMs = positive('duration', args.duration ?? (quick ? '6' : '15')) * 1000;
  const warmupMs = Number(args.warmup ?? (quick ? '2' : '3')) * 1000;
  const recoveryOnly = args['recovery-only']!;
  const requestedRounds = Number(args['recovery-rounds'] ?? (quick ? '0' : '100')) || 0;
  if (recoveryOnly && requestedRounds <= 0) throw new Error('--recovery-only needs --recovery-rounds above 0');
  // The recovery section needs only its known CPFs: no point seeding a hundred thousand.
  const citizens = recoveryOnly
    ? Math.min(Math.floor(positive('citizens', args.citizens)), Math.max(2_000, requestedRounds * 2 + 10))
    : Math.floor(positive('citizens', args.citizens));
  const poolSize = Math.min(citizens, Math.floor(positive('pool', args.pool ?? (quick ? '64' : '400'))));
  const phases = new Set(recoveryOnly ? [] : (args.phases!.split(',').map((s) => s.trim()) as PhaseName[]));
  for (const p of phases) if (!ALL_PHASES.includes(p)) throw new Error(`unknown phase ${p}`);
  const waitIdle = Number(args['wait-idle'] ?? (quick ? '5' : '60')) || 0;
  const conc = (p: PhaseName) => Math.floor(positive(`concurrency-${p}`, args[`concurrency-${p}`]));
  const watchdog = setTimeout(() => {
    log(`\nthe run took longer than --max-minutes ${args['max-minutes']}: aborting`);
    cleanup().finally(() => process.exit(1));
  }, positive('max-minutes', args['max-minutes']) * 60_000);
  watchdog.unref();

  const nodeBin = join(ROOT, 'node_modules/.bin/node');
  if (!existsSync(nodeBin)) throw new Error('node_modules/.bin/node is missing: run npm install');
  const machine = machineInfo();
  const revision = gitRevision();
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  log(`Cidadela benchmark — ${new Date().toISOString()}`);
  log(`code: ${revision}`);
  log(`machine: ${machine.nproc} vCPU ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}`);
  log(
    `note: the load generator runs on the same ${machine.nproc} cores as the server and the database; every figure is for all three sharing them.`,
  );

  const secretKey = `bench-${randomBytes(32).toString('base64url')}`;
  // One real argon2id hash, shared by every seeded citizen.
  const hasher = createPasswordHasher();
  const password = 'girassol azul na janela 42';
  const h0 = performance.now();
  const passwordHash = await hasher.hash(password);
  const hashMs = performance.now() - h0;

  // Database: fresh, seeded, with the bench service registered through the service store.
  const benchDb = await createBenchDatabase({ pglite: args.pglite!, databaseUrl: process.env.DATABASE_URL });
  cleanups.push(async () => {
    await benchDb.drop();
    log(`dropped ${benchDb.kind === 'postgres' ? 'database' : 'directory'} ${benchDb.label}`);
  });
  log(
    `database: ${benchDb.kind}, fresh ${benchDb.kind === 'postgres' ? 'database' : 'directory'} ${benchDb.label} (dropped at the end)`,
  );
  let handle: DatabaseHandle | undefined = await benchDb.open();
  cleanups.push(async () => {
    await handle?.close();
  });
  const version = String(
    (await sql<{ v: string }>`select version() as v`.execute(handle.db)).rows[0]?.v ?? '',
  ).split(' on ')[0]!;
  log(
    `seeding ${citizens.toLocaleString('en-US')} citizens (one argon2id hash computed once in ${hashMs.toFixed(0)} ms and reused for all, since hashing every password one by one would take tens of minutes)…`,
  );
  const s0 = performance.now();
  await seedCitizens(handle, citizens, passwordHash);
  const seedSeconds = (performance.now() - s0) / 1000;
  const redirectUri = 'http://127.0.0.1:9/bench/callback';
  const svc = await addBenchService(handle, redirectUri);
  // Recovery timing: its known CPFs (citizens the login phases do not use) get every way an account can have.
  const recoveryRounds = Math.min(requestedRounds, Math.floor(citizens / 2));
  const recoveryKnown = Array.from(
    { length: recoveryRounds },
    (_, i) => seededCitizen((i * 2 + 1) % citizens).cpf,
  );
  if (recoveryRounds > 0) await prepareKnownAccounts(handle.db, { cpfs: recoveryKnown, secretKey, hasher });
  log(`seeded in ${seedSeconds.toFixed(1)} s; bench service ${svc.clientId}`);
  if (benchDb.kind === 'pglite') {
    // PGlite is one process's database: the server must own it.
    await handle.close();
    handle = undefined;
  }

  // The server under test.
  const port = await freePort();
  let profileDir: string | undefined;
  const nodeArgs: string[] = [];
  if (args.profile) {
    profileDir = join(ROOT, 'bench/results/profiles', new Date().toISOString().replace(/[:.]/g, '-'));
    mkdirSync(profileDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`);
  }
  child = await startServer({
    root: ROOT,
    nodeBin,
    port,
    nodeArgs,
    env: { ...benchDb.serverEnv, SECRET_KEY: secretKey },
  });
  const server = child;
  cleanups.push(async () => {
    await server.stop();
    log(`server (pid ${server.pid}) stopped`);
  });
  const idle = readMemory(server.pid);
  log(
    `server: pid ${server.pid} at ${server.url}, idle RSS ${idle ? (idle.rssKiB / 1024).toFixed(0) : '?'} MiB`,
  );

  const maxConc = Math.max(...ALL_PHASES.map(conc));
  const http = createHttp(server.url, maxConc + 8);
  cleanups.push(async () => http.close());
  const rp = createRp(http, {
    issuer: server.url,
    clientId: svc.clientId,
    clientSecret: svc.clientSecret,
    redirectUri,
  });

  const results: PhaseResult[] = [];
  const dbPerOp: Record<string, Record<string, number>> = {};
  const seqScans: Record<string, { table: string; scansPerOp: number; rowsPerOp: number }[]> = {};
  const report = (r: PhaseResult) => {
    results.push(r);
    const status = r.ok
      ? ''
      : `  FAILED: ${r.errors + r.warmupErrors} errors ${JSON.stringify(r.errorSamples)}`;
    log(
      `  → ${r.name}: ${r.opsPerSecond} ops/s, p50 ${r.latencyMs.p50} ms, p95 ${r.latencyMs.p95} ms, p99 ${r.latencyMs.p99} ms, RSS max ${r.serverMemory?.rssMaxMiB ?? '–'} MiB, cores server ${r.cpu.serverCores ?? '–'} / load gen ${r.cpu.loadGeneratorCores} / PostgreSQL ${r.cpu.databaseCores ?? '–'} / other ${r.cpu.otherCores ?? '–'}, CPU ms/op ${r.cpuMsPerOp?.total ?? '–'}${status}`,
    );
  };
  // `target`: the peer instead of Cidadela (the phase is then called `peer <name>`, with no database).
  const phase = async (
    phaseName: PhaseName,
    spec: Omit<
      Parameters<typeof runPhase>[0],
      'name' | 'concurrency' | 'durationMs' | 'warmupMs' | 'serverPid'
    >,
    target: ServerChild = server,
  ) => {
    const isPeer = target !== server;
    const name = isPeer ? `peer ${phaseName}` : phaseName;
    if (target.exited()) throw new Error(`${isPeer ? 'the peer' : 'the server'} exited:\n${target.output().slice(-20).join('\n')}`);
    const quiet = await waitForQuiet(waitIdle);
    log(
      `phase ${name}: ${conc(phaseName)} workers, ${warmupMs / 1000} s warm-up + ${durationMs / 1000} s` +
        (quiet.busyCores >= 0.3
          ? ` (the machine is busy: ${quiet.busyCores} cores used by other processes)`
          : ''),
    );
    const before: DbCounters | undefined = handle && !isPeer ? await dbCounters(handle) : undefined;
    const r = await runPhase(
      {
        name,
        concurrency: conc(phaseName),
        durationMs,
        warmupMs,
        serverPid: target.pid,
        dbProcessMatch: isPeer ? undefined : benchDb.processMatch,
        ...spec,
      },
      log,
    );
    r.backgroundCoresBefore = quiet.busyCores;
    const after: DbCounters | undefined = handle && !isPeer ? await dbCounters(handle) : undefined;
    if (before && after) {
      // The warm-up's work is in the deltas too, so divide by everything done.
      const total = r.ops + Math.round((r.ops * warmupMs) / durationMs) || 1;
      const per = (a: number, b: number) => Math.round(((a - b) / total) * 10) / 10;
      dbPerOp[name] = {
        statements: per(after.xactCommit, before.xactCommit),
        rowsRead: per(after.tupReturned + after.tupFetched, before.tupReturned + before.tupFetched),
        rowsWritten: per(
          after.tupInserted + after.tupUpdated + after.tupDeleted,
          before.tupInserted + before.tupUpdated + before.tupDeleted,
        ),
      };
      // Sequential scans, by table: rows read per operation.
      for (const [table, a] of Object.entries(after.tables)) {
        const b = before.tables[table] ?? { seqScan: 0, seqTupRead: 0 };
        const rows = per(a.seqTupRead, b.seqTupRead);
        if (rows >= 1) {
          seqScans[name] ??= [];
          const entry = seqScans[name];
          entry.push({ table, scansPerOp: per(a.seqScan, b.seqScan), rowsPerOp: rows });
          entry.sort((x, y) => y.rowsPerOp - x.rowsPerOp);
        }
      }
      if (seqScans[name]) {
        log(
          `  sequential scans per operation: ${seqScans[name].map((x) => `${x.table} ${x.scansPerOp}× (${x.rowsPerOp} rows)`).join(', ')}`,
        );
      }
    }
    report(r);
    return r;
  };

  // A first journey, before any timing: if this fails nothing else is worth measuring.
  const first = await rp.passwordLogin(seededCitizen(0).cpf, password);
  await rp.userinfo(first.accessToken, first.sub);
  log(`smoke test: password login, code exchange and userinfo work (consent asked: ${first.consentShown})`);

  if (phases.has('healthz')) {
    await phase('healthz', {
      op: async () => {
        const res = await http.request('GET', '/healthz');
        if (res.status !== 200 || !res.body.includes('"ok"')) throw new Error(`healthz: HTTP ${res.status}`);
      },
    });
  }

  if (phases.has('argon2')) {
    await phase('argon2', {
      op: async () => {
        if (!(await hasher.verify(passwordHash, password))) throw new Error('argon2 verification failed');
        return 0;
      },
    });
  }

  // The untimed first pass: each pool citizen logs in once in a new browser and accepts the terms.
  // It leaves sessions with grants (for SSO) and refresh tokens (for rotation chains).
  const needsPool = ['login', 'sso', 'refresh', 'userinfo'].some((p) => phases.has(p as PhaseName));
  const pool = Array.from({ length: poolSize }, (_, i) =>
    seededCitizen(Math.floor((i * citizens) / poolSize + 7) % citizens),
  );
  const sessions: LoginResult[] = [];
  const prePass = { logins: 0, consentShown: 0, seconds: 0 };
  if (needsPool) {
    log(`first pass (untimed): ${poolSize} citizens log in once and accept the terms…`);
    const p0 = performance.now();
    let next = 0;
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: conc('login') }, async () => {
        while (next < pool.length && failures.length === 0) {
          const c = pool[next++]!;
          try {
            const r = await rp.passwordLogin(c.cpf, password);
            sessions.push(r);
            prePass.logins++;
            if (r.consentShown) prePass.consentShown++;
          } catch (error) {
            failures.push((error as Error).message);
          }
        }
      }),
    );
    prePass.seconds = Math.round((performance.now() - p0) / 100) / 10;
    if (failures.length) throw new Error(`the first pass failed: ${failures[0]}`);
    log(`  done in ${prePass.seconds} s; consent asked in ${prePass.consentShown} of ${prePass.logins}`);
  }

  const loginStats = { logins: 0, consentShown: 0 };
  if (phases.has('login')) {
    let k = 0;
    await phase('login', {
      op: async () => {
        const c = pool[k++ % pool.length]!;
        const r = await rp.passwordLogin(c.cpf, password);
        loginStats.logins++;
        if (r.consentShown) loginStats.consentShown++;
        return r.requests;
      },
    });
    log(
      `  consent was asked again in ${loginStats.consentShown} of ${loginStats.logins} logins (new browser each time)`,
    );
  }

  // The peer: a bare oidc-provider on another port, given the same load right after each phase.
  const tokenPhases = (['sso', 'refresh', 'userinfo'] as const).filter((p) => phases.has(p));
  let peer: Peer | undefined;
  let peerLoads: ReturnType<typeof tokenLoads> | undefined;
  if (!args['no-peer'] && tokenPhases.length) {
    peer = await startPeer({ root: ROOT, nodeBin, redirectUri, sockets: maxConc + 8 });
    const peerChild = peer.child;
    const peerHttp = peer.http;
    cleanups.push(async () => {
      peerHttp.close();
      await peerChild.stop();
    });
    const peerPool = Math.max(conc('sso'), conc('refresh'), Math.floor(positive('peer-pool', args['peer-pool'])));
    const p0 = performance.now();
    const peerBrowsers = await peerSessions(peer, peerPool, conc('login'));
    log(
      `peer: bare oidc-provider (bench/peer/server.ts) pid ${peerChild.pid} at ${peerChild.url}; ${peerBrowsers.length} browsers signed in in ${((performance.now() - p0) / 1000).toFixed(1)} s`,
    );
    peerLoads = tokenLoads(peer.rp, peerBrowsers, { sso: conc('sso'), refresh: conc('refresh') });
  }
  const loads = tokenLoads(rp, sessions, { sso: conc('sso'), refresh: conc('refresh') });
  for (const p of tokenPhases) {
    await phase(p, loads[p]());
    if (peer && peerLoads) await phase(p, peerLoads[p](), peer.child);
  }
  if (peer) {
    peer.http.close();
    await peer.child.stop();
  }

  // Recovery must answer a known and an unknown CPF alike: the two distributions and their difference.
  let recoveryTiming: RecoveryTiming | undefined;
  if (recoveryRounds > 0) {
    log(`
recovery timing: ${recoveryRounds} known and ${recoveryRounds} unknown CPFs…`);
    recoveryTiming = await measureRecoveryTiming(http, {
      knownCpfs: recoveryKnown,
      unknownCpfs: Array.from({ length: recoveryRounds }, (_, i) => cpfFromBase(String(800_000_000 + i))),
    });
    log(formatRecoveryTiming(recoveryTiming));
    if (!args['no-docs'] && (recoveryOnly || ALL_PHASES.every((p) => phases.has(p)))) {
      writeRecoveryTimingDoc(join(ROOT, 'docs/benchmarks.md'), recoveryTiming, {
        command,
        machine: `${machine.nproc} vCPU ${machine.cpuModel}, Node ${machine.node}`,
        load: loadavg()
          .map((l) => l.toFixed(1))
          .join(' / '),
        revision,
      });
      log('updated the recovery section of docs/benchmarks.md');
    }
  }
  if (recoveryOnly) {
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(
      join(ROOT, 'bench/results/recovery-latest.json'),
      `${JSON.stringify(recoveryTiming, null, 2)}\n`,
    );
    log('wrote bench/results/recovery-latest.json');
    return 0;
  }

  // Which statements each operation runs (an in-process copy of the server with query logging).
  let sqlTraces: SqlTrace[] | undefined;
  if (benchDb.kind === 'postgres' && !args['no-trace']) {
    sqlTraces = await traceSql({
      databaseUrl: benchDb.serverEnv.DATABASE_URL!,
      secretKey,
      identifier: seededCitizen(1).cpf,
      password,
      client: { clientId: svc.clientId, clientSecret: svc.clientSecret, redirectUri },
    });
    log('\nSQL per operation (one of each, in-process server with query logging):');
    log(formatTraces(sqlTraces));
  }

  const endMemory = readMemory(server.pid);
  http.close();
  await server.stop();
  log(
    `server (pid ${server.pid}) stopped; RSS at the end ${endMemory ? (endMemory.rssKiB / 1024).toFixed(0) : '?'} MiB, peak (VmHWM) ${endMemory ? (endMemory.hwmKiB / 1024).toFixed(0) : '?'} MiB`,
  );

  let profile: ReturnType<typeof summariseProfile> | undefined;
  if (profileDir) {
    const files = readdirSync(profileDir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(profileDir!, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    if (files[0]) {
      profile = summariseProfile(files[0]);
      log(formatProfile(profile));
    } else log('no CPU profile was written (did the server exit cleanly?)');
  }

  // Figures, ratios and targets.
  const get = (n: PhaseName) => results.find((r) => r.name === n);
  // Cidadela ÷ peer: the rate, and the CPU one operation costs the peer ÷ what it costs Cidadela
  // (server + load generator + database), which other processes' load moves much less.
  const peerRatios: BenchReport['peerRatios'] = {};
  for (const p of tokenPhases) {
    const ours = get(p);
    const theirs = results.find((r) => r.name === `peer ${p}`);
    if (!ours?.ok || !theirs?.ok) continue;
    peerRatios[p] = {
      ops: ours.opsPerSecond / theirs.opsPerSecond,
      ...(ours.cpuMsPerOp && theirs.cpuMsPerOp ? { cpu: theirs.cpuMsPerOp.total / ours.cpuMsPerOp.total } : {}),
    };
  }
  for (const [p, r] of Object.entries(peerRatios))
    log(`Cidadela ÷ peer, ${p}: ${(r.ops * 100).toFixed(1)} % of its rate${r.cpu ? `, ${(r.cpu * 100).toFixed(1)} % of its efficiency (peer CPU per op ÷ ours)` : ''}`);
  const healthz = get('healthz');
  const baselineRatios: BenchReport['baselineRatios'] = {};
  if (healthz?.ok) {
    for (const r of results) {
      if (r.name === 'healthz' || r.name === 'argon2' || r.name.startsWith('peer ')) continue;
      baselineRatios[r.name] = {
        ops: r.opsPerSecond / healthz.opsPerSecond,
        requests: r.requestsPerSecond / healthz.requestsPerSecond,
      };
    }
  }
  const targets: Target[] = [];
  const argon2 = get('argon2');
  const login = get('login');
  if (login && argon2) {
    const ratio = argon2.ok ? (login.opsPerSecond / argon2.opsPerSecond) * 100 : 0;
    targets.push({
      phase: 'login',
      description: `password logins ≥ 70% of the argon2id ceiling (${argon2.opsPerSecond} verifications/s in this run)`,
      required: 70,
      measured: Math.round(ratio * 10) / 10,
      unit: '%',
      met: login.ok && argon2.ok && ratio >= 70,
      ...(!login.ok || !argon2.ok ? { why: 'errors' } : {}),
      ...(login.cpuMsPerOp && argon2.cpuMsPerOp
        ? {
            projected:
              Math.round(
                (login.cpuMsPerOp.projectedOpsPerSecond /
                  Math.max(1, argon2.cpuMsPerOp.projectedOpsPerSecond)) *
                  1000,
              ) / 10,
          }
        : {}),
    });
    const keycloak = 15 * machine.nproc;
    targets.push({
      phase: 'login',
      description: `reference: Keycloak's published sizing, 15 password logins/s per vCPU (${keycloak}/s here)`,
      required: keycloak,
      measured: login.opsPerSecond,
      unit: 'logins/s',
      met: login.ok && login.opsPerSecond >= keycloak,
      ...(!login.ok ? { why: 'errors' } : {}),
      ...(login.cpuMsPerOp ? { projected: login.cpuMsPerOp.projectedOpsPerSecond } : {}),
    });
  }
  for (const [name, required, unit] of [
    ['sso', 500, 'SSO logins/s'],
    ['refresh', 600, 'refreshes/s'],
    ['userinfo', 2000, 'userinfo/s'],
  ] as const) {
    const r = get(name);
    if (!r) continue;
    targets.push({
      phase: name,
      description: `${required.toLocaleString('en-US')} ${unit}`,
      required,
      measured: r.opsPerSecond,
      unit,
      met: r.ok && r.opsPerSecond >= required,
      ...(!r.ok ? { why: 'errors' } : {}),
      ...(r.cpuMsPerOp ? { projected: r.cpuMsPerOp.projectedOpsPerSecond } : {}),
    });
  }

  // Hashing costs the same as verifying: the argon2 phase's rate, or the first hash on every core.
  const hashesPerSecond = argon2?.ok ? argon2.opsPerSecond : (1000 / hashMs) * machine.nproc;
  const notes = [
    `Seeding shortcut: all ${citizens.toLocaleString('en-US')} citizens share one argon2id hash, computed once with the project's hasher (${hashMs.toFixed(0)} ms) and copied into every row with multi-row INSERTs; hashing each password would take about ${Math.round(citizens / hashesPerSecond / 60)} minutes on ${machine.nproc} cores (at ${Math.round(hashesPerSecond)} hashes/s${argon2?.ok ? ", the argon2 phase's rate" : ''}) and measure nothing more. Logins still verify a real hash, with the real parameters, every time.`,
    `The load generator (this process, plain node:http with keep-alive, PKCE and form posts done by hand) runs on the same ${machine.nproc} cores as the server and PostgreSQL; the CPU columns show how the cores were shared. A separate client machine would give the server more room.`,
    `argon2 is the ceiling for password logins: ${conc('argon2')} concurrent verifications with the project's hasher (@node-rs/argon2 on libuv's threadpool, ${machine.uvThreadpoolSize} threads) in the bench process while the server sits idle.`,
    `Each password login is a new browser (empty cookie jar) of one of ${poolSize} citizens who accepted the service's terms in an untimed first pass (${prePass.seconds} s).` +
      (loginStats.logins
        ? loginStats.consentShown
          ? ` Consent was nevertheless asked again in ${loginStats.consentShown} of ${loginStats.logins} timed logins, so those journeys include the consent page and its POST.`
          : ` No timed login was asked for consent again (consent is remembered per citizen, not per browser): ${login ? (login.requestsPerSecond / Math.max(1, login.opsPerSecond)).toFixed(1) : '?'} HTTP requests per login.`
        : ''),
    "SSO logins use the first pass's sessions; refresh chains start from the SSO phase's last tokens and rotate (each refresh presents the refresh token the previous one returned); userinfo uses the chains' latest access tokens. ID token claims (iss, aud, nonce) are checked on every token response; signatures are not verified by the load generator.",
  ];

  const contended = results.filter((r) => (r.cpu.otherCores ?? 0) > 0.25);
  if (contended.length) {
    notes.push(
      `Other processes on the machine used CPU during ${contended.map((r) => `${r.name} (${r.cpu.otherCores} cores)`).join(', ')}: those figures are lower than this machine gives when idle.`,
    );
  }

  const result: BenchReport = {
    date: new Date().toISOString(),
    command,
    revision,
    machine,
    database: { kind: benchDb.kind, label: benchDb.label, version },
    citizens,
    seedSeconds: Math.round(seedSeconds * 10) / 10,
    argon2: {
      params: `m=${ARGON2_PARAMS.memoryCost} KiB, t=${ARGON2_PARAMS.timeCost}, p=${ARGON2_PARAMS.parallelism}`,
      hashMs: Math.round(hashMs * 10) / 10,
    },
    server: {
      idleRssMiB: idle ? Math.round(idle.rssKiB / 1024) : undefined,
      warnings: server.warnings(),
      pid: server.pid,
    },
    phases: results,
    baselineRatios,
    peerRatios,
    login: { ...loginStats, prePass },
    dbPerOp,
    seqScans,
    ...(sqlTraces ? { sqlTraces } : {}),
    targets,
    ...(profile ? { profile } : {}),
    notes,
  };

  log('');
  log(textTable(tableRows(result)));
  log('');
  for (const line of targetLines(result)) log(line);
  if (server.warnings() > 0) {
    log(`\nthe server logged ${server.warnings()} warnings or errors; the last ones:`);
    for (const line of server.output().slice(-10)) log(`  ${line}`);
  }

  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(
    join(resultsDir, 'latest.json'),
    `${JSON.stringify({ ...result, recoveryTiming }, null, 2)}\n`,
  );
  log(`\nwrote bench/results/latest.json`);
  const complete = ALL_PHASES.every((p) => phases.has(p)) && !args.profile;
  if (!args['no-docs'] && complete) {
    writeBenchmarksDoc(join(ROOT, 'docs/benchmarks.md'), result);
    log('updated docs/benchmarks.md');
  } else if (!args['no-docs']) {
    log('docs/benchmarks.md left as it was (only a full run without --profile updates it)');
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length) {
    log(`\nFAILED phases (errors, not reported as successes): ${failed.map((r) => r.name).join(', ')}`);
    return 1;
  }
  return 0;
}

/** The commit measured, and whether src/ or migrations/ had uncommitted changes. */
function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} with uncommitted changes in src/ or migrations/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (error) => {
    log(`\nbench failed: ${(error as Error).stack ?? error}`);
    if (child) for (const line of child.output().slice(-15)) log(`  server: ${line}`);
    await cleanup();
    process.exit(1);
  },
);
