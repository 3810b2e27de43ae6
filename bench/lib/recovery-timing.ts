import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.ts';
import { createRecoveryCodes } from '../../src/methods/recovery-codes/recovery-codes.ts';
import type { PasswordHasher } from '../../src/methods/password/password-hasher.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import { randomId } from '../../src/security/secrets.ts';
import { CookieJar, type Http } from './http.ts';
import { type Latency, percentiles } from './load.ts';

/** One step of recovery timed for known and for unknown CPFs. */
export type TimedStep = {
  known: Latency;
  unknown: Latency;
  medianDifferenceMs: number;
  meanDifferenceMs: number;
};

export const STEPS = {
  start: 'typing the CPF, the list of ways, choosing the e-mail (a code is sent for a known account)',
  secretAnswer: 'a wrong secret answer with birth date and mother’s name (argon2id against the stored hash, or the dummy)',
  savedCode: 'a wrong saved recovery code (the account’s codes read and compared, or nothing to compare)',
} as const;
export type StepName = keyof typeof STEPS;

export type RecoveryTiming = { rounds: number; at: string; steps: Record<StepName, TimedStep> };

const csrf = (html: string) => {
  const m = html.match(/name="_csrf" value="([^"]+)"/);
  if (!m) throw new Error('no CSRF token on the recovery page');
  return m[1]!;
};

/**
 * Gives the known CPFs what a real account with every way has: a mother's name on record, a secret
 * question (its answer hashed with the server's argon2id) and ten saved recovery codes (digests under
 * the server's SECRET_KEY). Run before the server starts.
 */
export async function prepareKnownAccounts(
  db: Db,
  input: { cpfs: string[]; secretKey: string; hasher: PasswordHasher },
): Promise<void> {
  const rows = await db.selectFrom('citizens').select('id').where('cpf', 'in', input.cpfs).execute();
  const answer = await input.hasher.hash('rua das araucarias');
  const codes = createRecoveryCodes({ db, secrets: createSecrets(input.secretKey) });
  for (const { id } of rows) {
    await db
      .updateTable('citizens')
      .set({ profile: sql`profile || '{"mother_name": "Maria da Silva"}'::jsonb` })
      .where('id', '=', id)
      .execute();
    await db
      .insertInto('credentials')
      .values({ id: randomId(18), citizen_id: id, type: 'secret_question', secret: answer, data: JSON.stringify({ preset: 'childhood_street' }) })
      .execute();
    await codes.generate(id);
  }
}

/**
 * Recovery's answers must take as long for an unknown CPF as for a known one (ASVS 5 6.3.8). One
 * browser at a time, known and unknown alternating, each from its own address; for each CPF three
 * steps are timed (`STEPS`): what differs between an account and nobody at each. Returns both
 * distributions of each step and their difference.
 */
export async function measureRecoveryTiming(
  http: Http,
  input: { knownCpfs: string[]; unknownCpfs: string[] },
): Promise<RecoveryTiming> {
  const samples = { known: { start: [], secretAnswer: [], savedCode: [] }, unknown: { start: [], secretAnswer: [], savedCode: [] } } as Record<
    'known' | 'unknown',
    Record<StepName, number[]>
  >;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const post = async (jar: CookieJar, path: string, fields: Record<string, string>, page: string) =>
    http.request('POST', path, { jar, headers: form, body: new URLSearchParams({ _csrf: csrf(page), ...fields }).toString() });
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
    const t0 = performance.now();
    const r = await fn();
    return [r, performance.now() - t0];
  };
  /** Back to the list of ways and into the typed way `value`: its page. */
  const into = async (jar: CookieJar, value: string, path: string) => {
    const ways = await http.request('GET', '/recuperar/opcoes', { jar });
    const chosen = await post(jar, '/recuperar/opcoes', { way: value }, ways.body);
    if (chosen.status !== 303) throw new Error(`choosing ${value} answered ${chosen.status}`);
    return http.request('GET', path, { jar });
  };
  const once = async (cpf: string, into_: Record<StepName, number[]>) => {
    const jar = new CookieJar(`10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`);
    const start = await http.request('GET', '/recuperar', { jar });
    const [, startMs] = await timed(async () => {
      const posted = await post(jar, '/recuperar', { identifier: cpf }, start.body);
      if (posted.status !== 303) throw new Error(`recovery start answered ${posted.status}`);
      const ways = await http.request('GET', '/recuperar/opcoes', { jar });
      const way = ways.body.match(/name="way" value="([^"]+)"/)?.[1];
      if (!way) throw new Error('no way offered');
      const chosen = await post(jar, '/recuperar/opcoes', { way }, ways.body);
      if (chosen.status !== 303) throw new Error(`choosing a way answered ${chosen.status}`);
    });
    into_.start.push(startMs);
    const question = await into(jar, 'secret_question', '/recuperar/pergunta');
    const [answered, answerMs] = await timed(() =>
      post(jar, '/recuperar/pergunta', { answer: 'rua errada', birthdate: '1985-06-15', mother_name: 'Maria da Silva' }, question.body),
    );
    if (answered.status !== 422) throw new Error(`a wrong secret answer answered ${answered.status}`);
    into_.secretAnswer.push(answerMs);
    const saved = await into(jar, 'recovery_code', '/recuperar/codigo-salvo');
    const [used, codeMs] = await timed(() => post(jar, '/recuperar/codigo-salvo', { code: 'AAAA-BBBB-CCCC-DDDD' }, saved.body));
    if (used.status !== 422) throw new Error(`a wrong saved code answered ${used.status}`);
    into_.savedCode.push(codeMs);
  };
  const rounds = Math.min(input.knownCpfs.length, input.unknownCpfs.length);
  for (let i = 0; i < rounds; i++) {
    // Alternating, so that drift in the machine's load touches both the same.
    await once(input.knownCpfs[i]!, samples.known);
    await once(input.unknownCpfs[i]!, samples.unknown);
  }
  const step = (name: StepName): TimedStep => {
    const k = percentiles(samples.known[name]);
    const u = percentiles(samples.unknown[name]);
    return {
      known: k,
      unknown: u,
      medianDifferenceMs: Math.round((k.p50 - u.p50) * 100) / 100,
      meanDifferenceMs: Math.round((k.mean - u.mean) * 100) / 100,
    };
  };
  return {
    rounds,
    at: new Date().toISOString(),
    steps: { start: step('start'), secretAnswer: step('secretAnswer'), savedCode: step('savedCode') },
  };
}

const row = (name: string, l: Latency) =>
  `${name.padEnd(8)} p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms  mean ${l.mean} ms  max ${l.max} ms`;

export function formatRecoveryTiming(r: RecoveryTiming): string {
  const lines = [`recovery timing, known vs unknown CPF (${r.rounds} of each, alternating, one at a time):`];
  for (const [name, s] of Object.entries(r.steps) as [StepName, TimedStep][]) {
    lines.push(
      `  ${name}: ${STEPS[name]}`,
      `    ${row('known', s.known)}`,
      `    ${row('unknown', s.unknown)}`,
      `    difference (known − unknown): median ${s.medianDifferenceMs} ms, mean ${s.meanDifferenceMs} ms`,
    );
  }
  return lines.join('\n');
}

const BEGIN = '<!-- bench-recovery:begin (written by npm run bench; edit outside these markers) -->';
const END = '<!-- bench-recovery:end -->';

/** The recovery timing section of docs/benchmarks.md, between its markers (added at the end the first time). */
export function writeRecoveryTimingDoc(file: string, r: RecoveryTiming, context: { command: string; machine: string; load: string; revision: string }) {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const table = [
    '| step | CPF | p50 ms | p95 ms | p99 ms | mean ms | max ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...(Object.entries(r.steps) as [StepName, TimedStep][]).flatMap(([name, s]) => [
      `| ${name} | known | ${s.known.p50} | ${s.known.p95} | ${s.known.p99} | ${s.known.mean} | ${s.known.max} |`,
      `| ${name} | unknown | ${s.unknown.p50} | ${s.unknown.p95} | ${s.unknown.p99} | ${s.unknown.mean} | ${s.unknown.max} |`,
      `| ${name} | **difference** | **${s.medianDifferenceMs}** (median) | | | **${s.meanDifferenceMs}** | |`,
    ]),
  ];
  const section = `${BEGIN}
## Recovery: known vs unknown accounts

Recovery must answer an account's identifier and nobody's alike, in its pages and in its time (ASVS 5
6.3.8; decisions 14 and 22). \`${context.command}\` times, for ${r.rounds} known and ${r.rounds} unknown CPFs
alternating, one browser at a time, each from its own address, the steps where the work could differ:

${(Object.entries(STEPS) as [StepName, string][]).map(([n, d]) => `- **${n}**: ${d}`).join('\n')}

The known accounts have a mother's name, a secret question and ten saved codes. Run of ${r.at} on
${context.machine}, code ${context.revision}, load average ${context.load} (the load generator, the
server and PostgreSQL share the cores; a difference within the spread of p50 and mean is noise).

${table.join('\n')}
${END}`;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? current.slice(0, start) + section + current.slice(end + END.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
