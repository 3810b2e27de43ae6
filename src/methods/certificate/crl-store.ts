import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { distributionPointsOf, type TrustStore } from './trust-store.ts';
import { type CertificateInput, decodeCrl, KeyUsageFlags, KeyUsagesExtension, type X509Crl } from './x509.ts';

/**
 * Revocation by CRL, kept off the sign-in's path: CRLs are fetched, verified and parsed here, in
 * the background (files in CERT_CRL_DIR, the distribution points of trusted certificates), and
 * what a sign-in asks — "is this serial revoked by this issuer, and is the list fresh?" — is a
 * lookup in memory. Keycloak parsed the whole CRL on every login; with ICP-Brasil's lists of tens
 * of megabytes that meant five-second logins and exhausted memory.
 */

/** A CRL without nextUpdate (ICP-Brasil's always have one) is believed for a day after thisUpdate. */
const NO_NEXT_UPDATE_SECONDS = 24 * 3600;
/** Distribution points remembered from certificates seen; a bound so no stream of certificates grows it forever. */
const MAX_DISTRIBUTION_POINTS = 10_000;

export type CrlSummary = {
  issuer: string;
  issuerFingerprint: string;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** When the list stops being fresh: nextUpdate, or a day after thisUpdate without one. */
  freshUntil: Date;
  revokedCount: number;
  source: string;
  loadedAt: Date;
};

export type RevocationStatus =
  | { state: 'good'; crl: 'fresh' | 'grace' }
  | { state: 'revoked'; revokedAt: Date }
  /** No fresh CRL for the issuer, and the operator's grace period is over. */
  | { state: 'stale'; since: Date };

export type CrlAddResult =
  | { ok: true; summary: CrlSummary; replaced: boolean }
  | { ok: false; source: string; error: string };

export type CrlStore = {
  /** Verifies the CRL against a trusted issuer and indexes it. Background work only: never on a sign-in. */
  add(input: CertificateInput | X509Crl, source: string): Promise<CrlAddResult>;
  /** The sign-in's question: a lookup in memory, nothing fetched or parsed. */
  check(issuerFingerprint: string, serialNumber: string): RevocationStatus;
  /** Remembers where a validated certificate says its issuer's CRL is, for the refresher's next pass. */
  noteDistributionPoints(urls: string[]): void;
  distributionPoints(): string[];
  summary(issuerFingerprint: string): CrlSummary | undefined;
  /** Which issuer the CRL last read from this source belongs to (lets a refresh pass skip mirrors). */
  issuerOfSource(source: string): string | undefined;
};

type Entry = CrlSummary & { revoked: Map<string, Date> };

/** Serial numbers as hex without leading zeros, so a CRL's and a certificate's spelling agree. */
const serialKey = (hex: string) => hex.toLowerCase().replace(/^0+(?=.)/, '');

export function createCrlStore({
  trust,
  now,
  graceSeconds,
}: {
  trust: TrustStore;
  now: () => Date;
  graceSeconds: number;
}): CrlStore {
  const byIssuer = new Map<string, Entry>();
  const sources = new Map<string, string>();
  const points = new Set<string>();
  // An issuer with no CRL at all is stale from the start; its grace counts from here, which gives
  // the first refresh after a restart the operator's grace period to bring the lists in.
  const startedAt = now();

  const note = (urls: string[]) => {
    for (const url of urls) if (points.size < MAX_DISTRIBUTION_POINTS) points.add(url);
  };
  for (const t of trust.all) note(distributionPointsOf(t.certificate));

  async function add(input: CertificateInput | X509Crl, source: string): Promise<CrlAddResult> {
    let crl: X509Crl;
    try {
      crl = typeof input === 'string' || input instanceof Uint8Array ? decodeCrl(input) : input;
    } catch (error) {
      return { ok: false, source, error: `not a CRL: ${(error as Error).message}` };
    }
    try {
      // Delta CRLs list only changes since a base: read alone they would hide revocations.
      if (crl.getExtension('2.5.29.27')) return { ok: false, source, error: 'delta CRLs are not supported' };
      const candidates = trust.all.filter((t) => t.subject === crl.issuer);
      let issuer: (typeof candidates)[number] | undefined;
      for (const candidate of candidates) {
        const usage = candidate.certificate.getExtension(KeyUsagesExtension);
        if (usage && !(usage.usages & KeyUsageFlags.cRLSign)) continue;
        if (await crl.verify({ publicKey: candidate.certificate })) {
          issuer = candidate;
          break;
        }
      }
      if (!issuer) {
        return {
          ok: false,
          source,
          error: candidates.length
            ? `signature does not verify with ${crl.issuer}`
            : `issuer not in the trust directory: ${crl.issuer}`,
        };
      }
      const existing = byIssuer.get(issuer.fingerprint);
      sources.set(source, issuer.fingerprint);
      // Never go back to an older list: a replayed old CRL (signed, but before a revocation) would un-revoke.
      if (existing && existing.thisUpdate.getTime() >= crl.thisUpdate.getTime()) {
        return { ok: true, summary: withoutRevoked(existing), replaced: false };
      }
      const revoked = new Map<string, Date>();
      for (const entry of crl.entries) revoked.set(serialKey(entry.serialNumber), entry.revocationDate);
      const nextUpdate = crl.nextUpdate ?? null;
      const entry: Entry = {
        issuer: issuer.subject,
        issuerFingerprint: issuer.fingerprint,
        thisUpdate: crl.thisUpdate,
        nextUpdate,
        freshUntil: nextUpdate ?? new Date(crl.thisUpdate.getTime() + NO_NEXT_UPDATE_SECONDS * 1000),
        revokedCount: revoked.size,
        source,
        loadedAt: now(),
        revoked,
      };
      byIssuer.set(issuer.fingerprint, entry);
      return { ok: true, summary: withoutRevoked(entry), replaced: true };
    } catch (error) {
      return { ok: false, source, error: `unreadable CRL: ${(error as Error).message}` };
    }
  }

  function check(issuerFingerprint: string, serialNumber: string): RevocationStatus {
    const entry = byIssuer.get(issuerFingerprint);
    const revokedAt = entry?.revoked.get(serialKey(serialNumber));
    // Once listed, revoked, however old the list.
    if (revokedAt) return { state: 'revoked', revokedAt };
    const at = now().getTime();
    if (entry && at <= entry.freshUntil.getTime()) return { state: 'good', crl: 'fresh' };
    const since = entry ? entry.freshUntil : startedAt;
    if (at - since.getTime() < graceSeconds * 1000) return { state: 'good', crl: 'grace' };
    return { state: 'stale', since };
  }

  return {
    add,
    check,
    noteDistributionPoints: note,
    distributionPoints: () => [...points],
    summary: (fingerprint) => {
      const entry = byIssuer.get(fingerprint);
      return entry ? withoutRevoked(entry) : undefined;
    },
    issuerOfSource: (source) => sources.get(source),
  };
}

function withoutRevoked({ revoked: _, ...summary }: Entry): CrlSummary {
  return summary;
}

export type CrlFetcher = (url: string) => Promise<Uint8Array>;

/** Fetches a CRL over HTTP(S) with a deadline and a size cap (a distribution point is a stranger's server). */
export function createHttpCrlFetcher({ timeoutMs = 30_000, maxBytes = 256 * 1024 * 1024 } = {}): CrlFetcher {
  return async (url) => {
    if (!/^https?:\/\//i.test(url)) throw new Error('only http and https distribution points are fetched');
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = response.body.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      size += read.value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw new Error(`larger than ${maxBytes} bytes`);
      }
      chunks.push(read.value);
    }
    return Buffer.concat(chunks);
  };
}

export type CrlLoadReport = { source: string; ok: boolean; error?: string; issuer?: string };

/** Reads every file in a CRL directory into the store (DER or PEM); skips files unchanged since `seen`. */
export async function loadCrlDirectory(
  store: CrlStore,
  dir: string,
  seen: Map<string, string> = new Map(),
): Promise<CrlLoadReport[]> {
  const reports: CrlLoadReport[] = [];
  const names = (await readdir(dir, { withFileTypes: true })).filter(
    (e) => e.isFile() && !e.name.startsWith('.'),
  );
  for (const entry of names.sort((a, b) => a.name.localeCompare(b.name))) {
    const file = join(dir, entry.name);
    try {
      const info = await stat(file);
      const stamp = `${info.mtimeMs}:${info.size}`;
      if (seen.get(file) === stamp) continue;
      seen.set(file, stamp);
      reports.push(report(file, await store.add(await readFile(file), file)));
    } catch (error) {
      reports.push({ source: file, ok: false, error: (error as Error).message });
    }
  }
  return reports;
}

function report(source: string, result: CrlAddResult): CrlLoadReport {
  return result.ok
    ? { source, ok: true, issuer: result.summary.issuer }
    : { source, ok: false, error: result.error };
}

type Log = { warn(object: object, message: string): void; info(object: object, message: string): void };

export type CrlRefresher = {
  /** One pass: the CRL directory's changed files, then every known distribution point. */
  refresh(): Promise<CrlLoadReport[]>;
  /** A pass now and then one every `intervalSeconds`, off the event loop's keep-alive. */
  start(): void;
  stop(): void;
};

/**
 * Keeps the store's lists current. Each pass re-reads changed files in the CRL directory and
 * fetches the distribution points; mirrors of a list already refreshed in the pass (ICP-Brasil
 * certificates name two or three) are skipped. A failed fetch keeps the list it had, which stays
 * good until its nextUpdate plus the grace period.
 */
export function createCrlRefresher({
  store,
  fetcher,
  crlDir,
  intervalSeconds,
  now,
  log,
}: {
  store: CrlStore;
  fetcher: CrlFetcher | null;
  crlDir?: string | undefined;
  intervalSeconds: number;
  now: () => Date;
  log?: Log | undefined;
}): CrlRefresher {
  const seenFiles = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<CrlLoadReport[]> | undefined;

  async function pass(): Promise<CrlLoadReport[]> {
    const reports: CrlLoadReport[] = [];
    if (crlDir) {
      try {
        reports.push(...(await loadCrlDirectory(store, crlDir, seenFiles)));
      } catch (error) {
        reports.push({ source: crlDir, ok: false, error: (error as Error).message });
      }
    }
    if (fetcher) {
      const refreshed = new Set<string>();
      for (const url of store.distributionPoints()) {
        const known = store.issuerOfSource(url);
        if (known && refreshed.has(known)) continue;
        // A list still fresh past the next pass, and fetched within the interval, need not be fetched again.
        const summary = known ? store.summary(known) : undefined;
        const at = now().getTime();
        if (
          summary &&
          summary.source === url &&
          summary.freshUntil.getTime() > at + intervalSeconds * 1000 &&
          at - summary.loadedAt.getTime() < intervalSeconds * 1000
        ) {
          refreshed.add(summary.issuerFingerprint);
          continue;
        }
        try {
          const result = await store.add(await fetcher(url), url);
          reports.push(report(url, result));
          if (result.ok) refreshed.add(result.summary.issuerFingerprint);
        } catch (error) {
          reports.push({ source: url, ok: false, error: (error as Error).message });
        }
      }
    }
    for (const r of reports) {
      if (r.ok) log?.info({ source: r.source, issuer: r.issuer }, 'CRL loaded');
      else
        log?.warn(
          { source: r.source, error: r.error },
          'CRL not loaded; the previous list, if any, stays in use',
        );
    }
    return reports;
  }

  function refresh(): Promise<CrlLoadReport[]> {
    // One pass at a time: a slow distribution point must not stack passes up.
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    refresh,
    start() {
      if (timer) return;
      void refresh();
      timer = setInterval(() => void refresh(), intervalSeconds * 1000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
