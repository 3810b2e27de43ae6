import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

/**
 * A closed-loop load runner: `concurrency` workers each run `op` back to back for a warm-up (not
 * recorded) and then for `durationMs`. Only operations that complete inside the measured window
 * count; every failure counts as an error, in the warm-up too. While it runs, the server's memory
 * (VmRSS, VmHWM from /proc/<pid>/status) is sampled, and CPU time is read for the server, this
 * process and the whole machine, so each phase says who used the two cores.
 */
export type PhaseSpec = {
  name: string;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** HTTP requests one operation makes (for the requests/s column), unless `op` returns its own count. */
  requestsPerOp?: number;
  op: (worker: number, iteration: number) => Promise<unknown>;
  /** The server's pid, for memory and CPU; omitted for in-process phases. */
  serverPid?: number | undefined;
  /** Text in the command line of the database's backend processes (PostgreSQL puts the database name there). */
  dbProcessMatch?: string | undefined;
};

export type Latency = { p50: number; p95: number; p99: number; max: number; mean: number };

export type PhaseResult = {
  name: string;
  concurrency: number;
  durationSeconds: number;
  ops: number;
  opsPerSecond: number;
  requestsPerSecond: number;
  latencyMs: Latency;
  errors: number;
  warmupErrors: number;
  errorSamples: Record<string, number>;
  /** Operations still running when the window closed (finished, not counted). */
  abandonedInFlight: number;
  serverMemory: { rssMaxMiB: number; rssEndMiB: number; hwmMiB: number } | undefined;
  /** Average cores busy: the server, this process, the bench database's PostgreSQL backends, everything else. */
  cpu: {
    serverCores: number | undefined;
    loadGeneratorCores: number;
    databaseCores: number | undefined;
    machineBusyCores: number;
    otherCores: number | undefined;
  };
  /**
   * CPU milliseconds one operation cost the server, the load generator and the database; and what
   * the machine's cores would give if the three had them all (cores × 1000 / total): a projection
   * that other processes' load does not move much, unlike ops/s.
   */
  cpuMsPerOp?: {
    server: number;
    loadGenerator: number;
    database: number;
    total: number;
    projectedOpsPerSecond: number;
  };
  /** Cores other processes kept busy just before the phase (the machine should be idle: ~0). */
  backgroundCoresBefore?: number;
  ok: boolean;
};

const CLK_TCK = 100; // USER_HZ on Linux

export function readMemory(pid: number): { rssKiB: number; hwmKiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return rss && hwm ? { rssKiB: Number(rss[1]), hwmKiB: Number(hwm[1]) } : undefined;
  } catch {
    return undefined;
  }
}

function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after "(comm) ".
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** CPU seconds of every process whose command line contains `match` (pid → seconds). */
function matchingProcessesCpu(match: string | undefined): Map<number, number> | undefined {
  if (!match) return undefined;
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(match)) continue;
      const cpu = processCpuSeconds(Number(entry));
      if (cpu !== undefined) out.set(Number(entry), cpu);
    } catch {}
  }
  return out;
}

function sumDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, t] of after) sum += t - (before.get(pid) ?? 0);
  return sum;
}

/** Cores busy on the whole machine over `ms`. */
export async function machineBusyCores(ms: number): Promise<number> {
  const a = machineCpu();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineCpu();
  return (b.busy - a.busy) / (ms / 1000);
}

/**
 * Waits (up to `maxSeconds`) until the machine is quiet: less than `threshold` cores busy over a
 * second. Other people's test runs on a shared machine would otherwise take cores from the server.
 */
export async function waitForQuiet(
  maxSeconds: number,
  threshold = 0.3,
): Promise<{ waitedSeconds: number; busyCores: number }> {
  const t0 = Date.now();
  let busy = await machineBusyCores(1000);
  while (busy >= threshold && Date.now() - t0 < maxSeconds * 1000) busy = await machineBusyCores(1000);
  return { waitedSeconds: Math.round((Date.now() - t0) / 1000), busyCores: Math.round(busy * 100) / 100 };
}

function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

export function percentiles(samples: number[]): Latency {
  if (samples.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const s = Float64Array.from(samples).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  const round = (x: number) => Math.round(x * 100) / 100;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return {
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    max: round(s[s.length - 1]!),
    mean: round(mean),
  };
}

export async function runPhase(spec: PhaseSpec, onProgress?: (line: string) => void): Promise<PhaseResult> {
  const latencies: number[] = [];
  const errorSamples: Record<string, number> = {};
  let errors = 0;
  let warmupErrors = 0;
  let abandoned = 0;
  let requests = 0;
  let measuring = false;
  const warmupEnd = performance.now() + spec.warmupMs;
  let windowStart = 0;
  let windowEnd = Number.POSITIVE_INFINITY;

  // Memory and CPU sampling, every 200 ms during the measured window.
  let rssMax = 0;
  let rssLast = 0;
  let hwm = 0;
  const sample = () => {
    if (spec.serverPid === undefined) return;
    const m = readMemory(spec.serverPid);
    if (!m) return;
    rssMax = Math.max(rssMax, m.rssKiB);
    rssLast = m.rssKiB;
    hwm = m.hwmKiB;
  };
  let timer: NodeJS.Timeout | undefined;
  let cpu0:
    | {
        server: number | undefined;
        self: NodeJS.CpuUsage;
        db: Map<number, number> | undefined;
        machine: { busy: number; total: number };
      }
    | undefined;

  const startWindow = () => {
    measuring = true;
    windowStart = performance.now();
    windowEnd = windowStart + spec.durationMs;
    cpu0 = {
      server: spec.serverPid === undefined ? undefined : processCpuSeconds(spec.serverPid),
      self: process.cpuUsage(),
      db: matchingProcessesCpu(spec.dbProcessMatch),
      machine: machineCpu(),
    };
    sample();
    timer = setInterval(sample, 200);
  };
  let cpuResult: PhaseResult['cpu'] | undefined;
  const endWindow = () => {
    if (cpuResult) return;
    sample();
    if (timer) clearInterval(timer);
    const wall = (performance.now() - windowStart) / 1000;
    const serverNow = spec.serverPid === undefined ? undefined : processCpuSeconds(spec.serverPid);
    const self = process.cpuUsage(cpu0!.self);
    const db = matchingProcessesCpu(spec.dbProcessMatch);
    const machine = machineCpu();
    const round = (x: number) => Math.round(x * 100) / 100;
    const serverCores =
      serverNow !== undefined && cpu0!.server !== undefined
        ? round((serverNow - cpu0!.server) / wall)
        : undefined;
    const loadGeneratorCores = round((self.user + self.system) / 1e6 / wall);
    const machineBusyCores = round((machine.busy - cpu0!.machine.busy) / wall);
    const databaseCores = db && cpu0!.db ? round(sumDelta(cpu0!.db, db) / wall) : undefined;
    cpuResult = {
      serverCores,
      loadGeneratorCores,
      databaseCores,
      machineBusyCores,
      otherCores:
        serverCores === undefined
          ? undefined
          : round(Math.max(0, machineBusyCores - serverCores - loadGeneratorCores - (databaseCores ?? 0))),
    };
  };

  let progressTimer: NodeJS.Timeout | undefined;
  if (onProgress) {
    progressTimer = setInterval(() => {
      if (!measuring) return;
      const elapsed = (performance.now() - windowStart) / 1000;
      onProgress(`  ${spec.name}: ${elapsed.toFixed(0)} s, ${latencies.length} ops, ${errors} errors`);
    }, 5000);
  }

  const worker = async (w: number) => {
    for (let i = 0; ; i++) {
      const now = performance.now();
      if (!measuring && now >= warmupEnd) startWindow();
      if (measuring && now >= windowEnd) return;
      const counted = measuring;
      const t0 = performance.now();
      try {
        const made = await spec.op(w, i);
        const t1 = performance.now();
        if (counted && t1 <= windowEnd) {
          latencies.push(t1 - t0);
          requests += typeof made === 'number' ? made : (spec.requestsPerOp ?? 1);
        } else if (counted) abandoned++;
      } catch (error) {
        const message = String((error as Error).message ?? error).slice(0, 160);
        errorSamples[message] = (errorSamples[message] ?? 0) + 1;
        if (counted) errors++;
        else warmupErrors++;
        // A worker that only fails would spin; a short pause keeps the phase bounded and honest.
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };

  if (spec.warmupMs <= 0) startWindow();
  await Promise.all(Array.from({ length: spec.concurrency }, (_, w) => worker(w)));
  if (!measuring) startWindow();
  endWindow();
  if (progressTimer) clearInterval(progressTimer);

  const durationSeconds = spec.durationMs / 1000;
  const ops = latencies.length;
  let cpuMsPerOp: PhaseResult['cpuMsPerOp'];
  if (ops > 0 && cpuResult) {
    const per = (cores: number | undefined) =>
      Math.round((((cores ?? 0) * durationSeconds * 1000) / ops) * 100) / 100;
    const server = per(cpuResult.serverCores);
    const loadGenerator = per(cpuResult.loadGeneratorCores);
    const database = per(cpuResult.databaseCores);
    const total = Math.round((server + loadGenerator + database) * 100) / 100;
    cpuMsPerOp = {
      server,
      loadGenerator,
      database,
      total,
      projectedOpsPerSecond: total > 0 ? Math.round((availableParallelism() * 1000) / total) : 0,
    };
  }
  const opsPerSecond = ops / durationSeconds;
  const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
  return {
    name: spec.name,
    concurrency: spec.concurrency,
    durationSeconds,
    ops,
    opsPerSecond: Math.round(opsPerSecond * 10) / 10,
    requestsPerSecond: Math.round((requests / durationSeconds) * 10) / 10,
    latencyMs: percentiles(latencies),
    errors,
    warmupErrors,
    errorSamples,
    abandonedInFlight: abandoned,
    serverMemory:
      spec.serverPid === undefined
        ? undefined
        : { rssMaxMiB: mib(rssMax), rssEndMiB: mib(rssLast), hwmMiB: mib(hwm) },
    cpu: cpuResult!,
    ...(cpuMsPerOp ? { cpuMsPerOp } : {}),
    ok: errors === 0 && warmupErrors === 0 && ops > 0,
  };
}
