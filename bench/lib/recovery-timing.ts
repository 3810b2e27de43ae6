import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CookieJar, type Http } from './http.ts';
import { type Latency, percentiles } from './load.ts';

export type RecoveryTiming = {
  rounds: number;
  known: Latency;
  unknown: Latency;
  medianDifferenceMs: number;
  meanDifferenceMs: number;
};

const csrf = (html: string) => {
  const m = html.match(/name="_csrf" value="([^"]+)"/);
  if (!m) throw new Error('no CSRF token on the recovery page');
  return m[1]!;
};

/**
 * Recovery's answer must take as long for an unknown CPF as for a known one (ASVS 5 6.3.8). One
 * browser at a time, known and unknown alternating, each from its own address: the timed part is
 * what differs between the two — typing the CPF, the list of ways, choosing one (a code is sent
 * for a known account, nothing for an unknown one). Returns both distributions and the difference.
 */
export async function measureRecoveryTiming(
  http: Http,
  input: { knownCpfs: string[]; unknownCpfs: string[] },
): Promise<RecoveryTiming> {
  const known: number[] = [];
  const unknown: number[] = [];
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const once = async (cpf: string) => {
    const jar = new CookieJar(`10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`);
    const start = await http.request('GET', '/recuperar', { jar });
    const t0 = performance.now();
    const posted = await http.request('POST', '/recuperar', {
      jar,
      headers: form,
      body: new URLSearchParams({ _csrf: csrf(start.body), identifier: cpf }).toString(),
    });
    if (posted.status !== 303) throw new Error(`recovery start answered ${posted.status}`);
    const ways = await http.request('GET', '/recuperar/opcoes', { jar });
    const way = ways.body.match(/name="way" value="([^"]+)"/)?.[1];
    if (!way) throw new Error('no way offered');
    const chosen = await http.request('POST', '/recuperar/opcoes', {
      jar,
      headers: form,
      body: new URLSearchParams({ _csrf: csrf(ways.body), way }).toString(),
    });
    if (chosen.status !== 303) throw new Error(`choosing a way answered ${chosen.status}`);
    return performance.now() - t0;
  };
  const rounds = Math.min(input.knownCpfs.length, input.unknownCpfs.length);
  for (let i = 0; i < rounds; i++) {
    // Alternating, so that drift in the machine's load touches both the same.
    known.push(await once(input.knownCpfs[i]!));
    unknown.push(await once(input.unknownCpfs[i]!));
  }
  const k = percentiles(known);
  const u = percentiles(unknown);
  return {
    rounds,
    known: k,
    unknown: u,
    medianDifferenceMs: Math.round((k.p50 - u.p50) * 100) / 100,
    meanDifferenceMs: Math.round((k.mean - u.mean) * 100) / 100,
  };
}

export function formatRecoveryTiming(r: RecoveryTiming): string {
  const row = (name: string, l: Latency) =>
    `  ${name.padEnd(8)} p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms  mean ${l.mean} ms  max ${l.max} ms`;
  return [
    `recovery timing, known vs unknown CPF (${r.rounds} of each, alternating, one at a time):`,
    row('known', r.known),
    row('unknown', r.unknown),
    `  difference (known − unknown): median ${r.medianDifferenceMs} ms, mean ${r.meanDifferenceMs} ms`,
  ].join('\n');
}
