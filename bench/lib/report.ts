import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { PhaseResult } from './load.ts';
import type { Machine } from './machine.ts';

export type Target = {
  phase: string;
  description: string;
  required: number;
  measured: number;
  unit: string;
  met: boolean;
  why?: string;
  /** The same figure from CPU cost per operation, as if nothing else ran on the machine. */
  projected?: number;
};

export type BenchReport = {
  date: string;
  command: string;
  revision: string;
  machine: Machine;
  database: { kind: string; label: string; version: string };
  citizens: number;
  seedSeconds: number;
  argon2: { params: string; hashMs: number };
  server: { idleRssMiB: number | undefined; warnings: number; pid: number };
  phases: PhaseResult[];
  /** ops/s of each phase divided by the /healthz rate (requests/s for the HTTP-level ratio). */
  baselineRatios: Record<string, { ops: number; requests: number }>;
  /**
   * Cidadela ÷ the peer (a bare oidc-provider, bench/peer/server.ts) for each phase both ran: the
   * rate, and `cpu`, the peer's CPU per operation ÷ Cidadela's (all processes, the load generator included).
   */
  peerRatios?: Record<string, { ops: number; cpu?: number }>;
  login: {
    consentShown: number;
    logins: number;
    prePass: { logins: number; consentShown: number; seconds: number };
  };
  dbPerOp: Record<string, Record<string, number>>;
  seqScans?: Record<string, { table: string; scansPerOp: number; rowsPerOp: number }[]>;
  sqlTraces?: { operation: string; statements: number; writes: number; dbMs: number; wallMs: number }[];
  targets: Target[];
  profile?: unknown;
  notes: string[];
};

const f1 = (x: number) => (Math.round(x * 10) / 10).toLocaleString('en-US');
const f0 = (x: number) => Math.round(x).toLocaleString('en-US');

function memory(p: PhaseResult): string {
  return p.serverMemory ? `${f0(p.serverMemory.rssMaxMiB)} / ${f0(p.serverMemory.hwmMiB)}` : '–';
}

function cpu(p: PhaseResult): string {
  const c = p.cpu;
  const x = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(2));
  return `${x(c.serverCores)} / ${x(c.loadGeneratorCores)} / ${x(c.databaseCores)} / ${x(c.otherCores)}`;
}

export function tableRows(r: BenchReport): string[][] {
  const header = [
    'phase',
    'conc.',
    'ops/s',
    'HTTP req/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'errors',
    'server RSS max / HWM MiB',
    'CPU cores: server / load gen / PostgreSQL / other',
    'CPU ms/op: server + load gen + PostgreSQL',
    'projected ops/s, all cores',
    'vs /healthz (ops, req)',
    'vs peer: ops/s, CPU/op',
  ];
  const rows = [header];
  for (const p of r.phases) {
    const ratio = r.baselineRatios[p.name];
    rows.push([
      p.name,
      String(p.concurrency),
      f1(p.opsPerSecond),
      p.name === 'argon2' ? '–' : f0(p.requestsPerSecond),
      String(p.latencyMs.p50),
      String(p.latencyMs.p95),
      String(p.latencyMs.p99),
      p.ok ? String(p.errors) : `${p.errors + p.warmupErrors} FAILED`,
      memory(p),
      cpu(p),
      p.cpuMsPerOp
        ? `${p.cpuMsPerOp.server} + ${p.cpuMsPerOp.loadGenerator} + ${p.cpuMsPerOp.database} = ${p.cpuMsPerOp.total}`
        : '–',
      p.cpuMsPerOp ? f0(p.cpuMsPerOp.projectedOpsPerSecond) : '–',
      ratio ? `${(ratio.ops * 100).toFixed(1)}%, ${(ratio.requests * 100).toFixed(1)}%` : '–',
      peerCell(r, p.name),
    ]);
  }
  return rows;
}

function peerCell(r: BenchReport, phase: string): string {
  if (phase.startsWith('peer ')) return '(the peer)';
  const x = r.peerRatios?.[phase];
  if (!x) return '–';
  return `**${(x.ops * 100).toFixed(1)}%**, ${x.cpu === undefined ? '–' : `${(x.cpu * 100).toFixed(1)}%`}`;
}

/** The ratios to the peer first: the figure this shared machine's load moves least. */
export function peerLines(r: BenchReport): string[] {
  return Object.entries(r.peerRatios ?? {}).map(
    ([phase, x]) =>
      `| ${phase} | ${(x.ops * 100).toFixed(1)} % | ${x.cpu === undefined ? '–' : `${(x.cpu * 100).toFixed(1)} %`} |`,
  );
}

export function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r, k) => {
      const line = r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
      return k === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n');
}

export function markdownTable(rows: string[][]): string {
  const [header, ...body] = rows;
  return [
    `| ${header!.join(' | ')} |`,
    `| ${header!.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function targetLines(r: BenchReport): string[] {
  return r.targets.map(
    (t) =>
      `${t.met ? 'MET    ' : 'NOT MET'}  ${t.description}: measured ${f1(t.measured)} ${t.unit}, required ${f1(t.required)} ${t.unit}${t.why ? ` (${t.why})` : ''}${t.projected !== undefined ? `; projection from CPU per operation ${f1(t.projected)} ${t.unit}` : ''}`,
  );
}

const BEGIN = '<!-- bench:begin (written by npm run bench; edit outside these markers) -->';
const END = '<!-- bench:end -->';

/** The generated part of docs/benchmarks.md. */
export function markdownSection(r: BenchReport): string {
  const m = r.machine;
  const out: string[] = [];
  out.push('### Latest run', '');
  out.push(`- **Command:** \`${r.command}\``);
  out.push(`- **Date:** ${r.date}; code at ${r.revision}`);
  out.push(
    `- **Machine:** ${m.nproc} vCPU (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Linux ${m.kernel}, Node.js ${m.node}, libuv threadpool ${m.uvThreadpoolSize}`,
  );
  out.push(
    `- **Database:** ${r.database.kind} (${r.database.version}), fresh database \`${r.database.label}\`, dropped afterwards`,
  );
  out.push(
    `- **Data:** ${f0(r.citizens)} citizens seeded in ${r.seedSeconds.toFixed(1)} s, all sharing one argon2id hash (${r.argon2.params}, ${r.argon2.hashMs.toFixed(0)} ms to compute) — see the notes`,
  );
  out.push(
    `- **Server:** one \`node src/main.ts serve\` process, NODE_ENV=production, LOG_LEVEL=warn, TRUST_PROXY=true (each simulated browser comes from its own X-Forwarded-For address); idle RSS ${r.server.idleRssMiB ?? '?'} MiB; ${r.server.warnings} warning/error log lines during the run`,
  );
  out.push('');
  const peer = peerLines(r);
  if (peer.length) {
    out.push(
      '#### Cidadela ÷ the peer (a bare oidc-provider of the same version, in-memory adapter, same load, same run)',
      '',
      '| phase | rate (ops/s ÷ peer ops/s) | efficiency (peer CPU ms/op ÷ Cidadela CPU ms/op) |',
      '| --- | ---: | ---: |',
      ...peer,
      '',
      "The peer (`bench/peer/server.ts`) is oidc-provider with its own in-memory store and an interaction that signs in at once, configured like Cidadela where it matters (PKCE required, ES256 ID tokens with the claims, client_secret_basic, refresh tokens rotated on every use), run as its own process on another loopback port right after each Cidadela phase with the same workers and checks: the framework's ceiling on this machine. CPU per operation counts the server, the load generator and (Cidadela only) PostgreSQL. Goal: ≥ 60 % on SSO, refresh and userinfo.",
      '',
    );
  }
  out.push(markdownTable(tableRows(r)));
  out.push('');
  out.push(
    `ops/s counts whole operations: a password login is one full browser journey plus the code exchange, an SSO login is authorize → code → token, a refresh and a userinfo are one request each. Latencies are per operation. CPU is cores used on average during the measured window, from /proc: the server process, the load generator (this bench), the PostgreSQL backends serving the bench database, and everything else on the machine (other processes; should be near 0). CPU ms/op divides those by the operations done; the projection is what the machine's cores would give if server, load generator and database had them all to themselves (cores × 1000 ÷ CPU ms/op): it ignores latency and locking, but the load of other processes moves it much less than the measured rate.`,
  );
  out.push('');
  out.push('#### Targets', '');
  out.push(
    '| target | required | measured | result | projection from CPU per operation |',
    '| --- | ---: | ---: | --- | ---: |',
  );
  for (const t of r.targets) {
    out.push(
      `| ${t.description} | ${f1(t.required)} ${t.unit} | ${f1(t.measured)} ${t.unit} | ${t.met ? 'met' : `**not met**${t.why ? ` (${t.why})` : ''}`} | ${t.projected !== undefined ? `${f1(t.projected)} ${t.unit}` : '–'} |`,
    );
  }
  out.push(
    '',
    'A target is met only by the measured figure, and only if its phase had no errors. The projection says what the same CPU cost per operation would give with the cores to server, load generator and PostgreSQL alone; it matters when other processes used the machine during the run (the "other" CPU column).',
  );
  out.push('');
  const dbKeys = Object.keys(r.dbPerOp);
  if (dbKeys.length) {
    out.push(
      '#### Database work per operation (pg_stat_database and pg_stat_user_tables deltas, approximate)',
      '',
    );
    out.push(
      '| phase | transactions (≈ statements) | rows written | sequential scans: table × per op (rows read) |',
      '| --- | ---: | ---: | --- |',
    );
    for (const k of dbKeys) {
      const d = r.dbPerOp[k]!;
      const scans = (r.seqScans?.[k] ?? [])
        .map((x) => `${x.table} ${x.scansPerOp}× (${f1(x.rowsPerOp)})`)
        .join(', ');
      out.push(`| ${k} | ${f1(d.statements ?? 0)} | ${f1(d.rowsWritten ?? 0)} | ${scans || '–'} |`);
    }
    out.push('');
  }
  if (r.sqlTraces?.length) {
    out.push('#### SQL statements per operation (one of each, traced with query logging)', '');
    out.push(
      '| operation | statements | of which writes | time in the database | wall time |',
      '| --- | ---: | ---: | ---: | ---: |',
    );
    for (const t of r.sqlTraces)
      out.push(`| ${t.operation} | ${t.statements} | ${t.writes} | ${t.dbMs} ms | ${t.wallMs} ms |`);
    out.push(
      '',
      'The statements themselves are in bench/results/latest.json (`sqlTraces`) and in the command output.',
      '',
    );
  }
  out.push('#### Notes from this run', '');
  for (const n of r.notes) out.push(`- ${n}`);
  return `${BEGIN}\n${out.join('\n')}\n${END}`;
}

const INTRO = `## Identity provider: logins, SSO, refresh and userinfo

How fast one Cidadela server is on a small machine, measured with one command:

\`\`\`sh
npm run bench            # PostgreSQL: DATABASE_URL's server, or postgres://postgres@127.0.0.1:5432
npm run bench -- --help  # durations, concurrency, --pglite, --profile
\`\`\`
`;

/** Replaces the generated section of docs/benchmarks.md, keeping what people wrote around it. */
export function writeBenchmarksDoc(file: string, r: BenchReport) {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const section = markdownSection(r);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + section + current.slice(end + END.length)
      : `${current.trimEnd()}\n\n${INTRO}\n${section}\n`;
  writeFileSync(file, next);
}

// `node bench/lib/report.ts bench/results/latest.json docs/benchmarks.md` rewrites the generated
// section of the document from saved results.
if (import.meta.main) {
  const [json, doc] = process.argv.slice(2);
  if (!json || !doc) throw new Error('usage: node bench/lib/report.ts <results.json> <benchmarks.md>');
  writeBenchmarksDoc(doc, JSON.parse(readFileSync(json, 'utf8')) as BenchReport);
}
