import { readFileSync } from 'node:fs';

/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by package, and
 * inclusive time by package (the share of samples with any frame of that package on the stack).
 */
type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

export type ProfileSummary = {
  file: string;
  totalMs: number;
  busyMs: number;
  selfByFunction: { name: string; where: string; ms: number; pctOfBusy: number }[];
  selfByPackage: { pkg: string; ms: number; pctOfBusy: number }[];
  inclusiveByPackage: { pkg: string; ms: number; pctOfBusy: number }[];
  inclusiveByFunction: { name: string; where: string; ms: number; pctOfBusy: number }[];
};

function packageOf(url: string, name: string): string {
  if (!url) {
    if (name === '(garbage collector)') return '(gc)';
    if (name === '(idle)') return '(idle)';
    if (name === '(program)') return '(program)';
    return '(native)';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] ?? ''}`;
  const src = url.indexOf('/src/');
  if (src >= 0) return `src/${url.slice(src + 5).split('/')[0]}`;
  return url.replace(/^file:\/\//, '');
}

function shortWhere(url: string, line: number): string {
  const nm = url.lastIndexOf('/node_modules/');
  const s = nm >= 0 ? url.slice(nm + 14) : url.replace(/^.*\/(src|bench)\//, '$1/');
  return s ? `${s}:${line + 1}` : '';
}

export function summariseProfile(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, Node>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfFn = new Map<string, { name: string; where: string; ms: number }>();
  const selfPkg = new Map<string, number>();
  const inclPkg = new Map<string, number>();
  const inclFn = new Map<string, { name: string; where: string; ms: number }>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const ms = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
    total += ms;
    const node = byId.get(p.samples[i]!);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const pkg = packageOf(url, functionName);
    if (pkg === '(idle)') {
      idle += ms;
      continue;
    }
    const key = `${functionName}@${url}:${lineNumber}`;
    const entry = selfFn.get(key) ?? {
      name: functionName || '(anonymous)',
      where: shortWhere(url, lineNumber),
      ms: 0,
    };
    entry.ms += ms;
    selfFn.set(key, entry);
    selfPkg.set(pkg, (selfPkg.get(pkg) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (!f.url) continue;
      const k = packageOf(f.url, f.functionName);
      const fk = `${f.functionName}@${f.url}:${f.lineNumber}`;
      if (!seen.has(fk)) {
        seen.add(fk);
        const e = inclFn.get(fk) ?? {
          name: f.functionName || '(anonymous)',
          where: shortWhere(f.url, f.lineNumber),
          ms: 0,
        };
        e.ms += ms;
        inclFn.set(fk, e);
      }
      if (seen.has(k)) continue;
      seen.add(k);
      inclPkg.set(k, (inclPkg.get(k) ?? 0) + ms);
    }
  }
  const busy = total - idle;
  const pct = (ms: number) => Math.round((ms / busy) * 1000) / 10;
  const r = (ms: number) => Math.round(ms);
  return {
    file,
    totalMs: r(total),
    busyMs: r(busy),
    selfByFunction: [...selfFn.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((e) => ({ ...e, ms: r(e.ms), pctOfBusy: pct(e.ms) })),
    selfByPackage: [...selfPkg.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([pkg, ms]) => ({ pkg, ms: r(ms), pctOfBusy: pct(ms) })),
    inclusiveByPackage: [...inclPkg.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([pkg, ms]) => ({ pkg, ms: r(ms), pctOfBusy: pct(ms) })),
    inclusiveByFunction: [...inclFn.values()]
      .filter((e) => !e.where.startsWith('node:') && e.where !== '')
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top * 2)
      .map((e) => ({ ...e, ms: r(e.ms), pctOfBusy: pct(e.ms) })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [
    `CPU profile ${s.file}: ${s.busyMs} ms busy of ${s.totalMs} ms sampled`,
    '  self time by package:',
  ];
  for (const e of s.selfByPackage.slice(0, 15))
    lines.push(`    ${e.pctOfBusy.toFixed(1).padStart(5)}%  ${e.pkg}`);
  lines.push('  inclusive time by package (any frame on the stack):');
  for (const e of s.inclusiveByPackage.slice(0, 15))
    lines.push(`    ${e.pctOfBusy.toFixed(1).padStart(5)}%  ${e.pkg}`);
  lines.push('  inclusive time by function (outside node:internal):');
  for (const e of s.inclusiveByFunction)
    lines.push(`    ${e.pctOfBusy.toFixed(1).padStart(5)}%  ${e.name}  ${e.where}`);
  lines.push('  self time by function:');
  for (const e of s.selfByFunction)
    lines.push(`    ${e.pctOfBusy.toFixed(1).padStart(5)}%  ${e.name}  ${e.where}`);
  return lines.join('\n');
}

// `node bench/lib/profile.ts file.cpuprofile` prints the summary of a saved profile.
if (import.meta.main) {
  for (const f of process.argv.slice(2)) console.log(formatProfile(summariseProfile(f)));
}
