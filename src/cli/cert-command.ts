import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatCnpj } from '../identity/cnpj.ts';
import { formatCpf } from '../identity/cpf.ts';
import { type CertificateDecision, checkCertificate } from '../methods/certificate/certificate-check.ts';
import {
  type CrlFetcher,
  type CrlLoadReport,
  type CrlStore,
  createCrlRefresher,
  createCrlStore,
  createHttpCrlFetcher,
  loadCrlDirectory,
} from '../methods/certificate/crl-store.ts';
import {
  createTrustStore,
  loadTrustDirectory,
  type TrustedCertificate,
  type TrustStore,
} from '../methods/certificate/trust-store.ts';
import { createCertificateValidator } from '../methods/certificate/validator.ts';
import { decodeCertificates } from '../methods/certificate/x509.ts';
import { createI18n, isLocale } from '../platform/i18n.ts';

export const CERT_USAGE = `cidadela cert <command> [options]

  inspect FILE   what Cidadela reads from a client certificate (DER or PEM) and whether it accepts it
                 [--trust DIR]          roots and intermediates (without it nothing is trusted)
                 [--crl FILE ...]       CRLs to use (DER or PEM)   [--crl-dir DIR]  every CRL in DIR
                 [--crl-grace SECONDS]  accept a CRL past its nextUpdate for this long (default 0)
                 [--fetch]              also fetch the CRLs the certificates name (network)
                 [--lang pt-BR|en|es]   language of the message   [--json]
                 exit status: 0 accepted, 1 refused, 2 wrong usage or unreadable files
  trust          the roots and intermediates in --trust DIR, and each issuer's CRL and its age
                 --trust DIR [--crl FILE ...] [--crl-dir DIR] [--crl-grace SECONDS] [--fetch] [--json]

  Needs no database. Operators put ICP-Brasil's roots and intermediates in CERT_TRUST_DIR
  (see docs/certificates.md).`;

type Out = { log(line: string): void; error(line: string): void };

const options = {
  trust: { type: 'string' },
  crl: { type: 'string', multiple: true },
  'crl-dir': { type: 'string' },
  'crl-grace': { type: 'string' },
  fetch: { type: 'boolean' },
  lang: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

class UsageError extends Error {}

/** What both commands start from: the trust directory and the CRLs, loaded as the server loads them. */
async function loadStores(v: Values, now: () => Date) {
  const grace = v['crl-grace'] === undefined ? 0 : Number(v['crl-grace']);
  if (!Number.isFinite(grace) || grace < 0) throw new UsageError('--crl-grace: a number of seconds');
  let trust: TrustStore;
  try {
    trust = v.trust ? await loadTrustDirectory(v.trust) : await createTrustStore([]);
  } catch (error) {
    throw new UsageError(`--trust ${v.trust}: ${(error as Error).message}`);
  }
  const crls = createCrlStore({ trust, now, graceSeconds: grace });
  const reports: CrlLoadReport[] = [];
  for (const file of v.crl ?? []) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (error) {
      throw new UsageError(`--crl ${file}: ${(error as Error).message}`);
    }
    const result = await crls.add(bytes, file);
    reports.push(
      result.ok
        ? { source: file, ok: true, issuer: result.summary.issuer }
        : { source: file, ok: false, error: result.error },
    );
  }
  if (v['crl-dir']) {
    try {
      reports.push(...(await loadCrlDirectory(crls, v['crl-dir'])));
    } catch (error) {
      throw new UsageError(`--crl-dir ${v['crl-dir']}: ${(error as Error).message}`);
    }
  }
  return { trust, crls, reports, grace };
}

function freshness(crls: CrlStore, ca: TrustedCertificate, at: Date, grace: number) {
  const summary = crls.summary(ca.fingerprint);
  if (!summary) return { state: 'missing' as const };
  const past = at.getTime() - summary.freshUntil.getTime();
  return {
    state: past <= 0 ? ('fresh' as const) : past < grace * 1000 ? ('grace' as const) : ('stale' as const),
    ageSeconds: Math.round((at.getTime() - summary.thisUpdate.getTime()) / 1000),
    thisUpdate: summary.thisUpdate.toISOString(),
    nextUpdate: summary.nextUpdate?.toISOString() ?? null,
    revoked: summary.revokedCount,
    source: summary.source,
  };
}

function humanAge(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

/** The JSON `cidadela cert inspect --json` prints (its fields are documented in docs/certificates.md). */
export function inspectionJson(decision: CertificateDecision, message: string | null) {
  const read = decision.read;
  return {
    accepted: decision.accepted,
    reason: decision.reason,
    message,
    kind: read.kind ?? null,
    level: read.level ?? null,
    cpf: read.cpf ?? null,
    birthdate: read.birthdate ?? null,
    name: read.name ?? null,
    cnpj: read.cnpj ?? null,
    companyName: read.companyName ?? null,
    issuer: decision.certificate?.issuer ?? null,
    serial: decision.certificate?.serial ?? null,
    notAfter: decision.certificate?.notAfter.toISOString() ?? null,
    crl: decision.crl,
  };
}

async function inspect(
  file: string | undefined,
  v: Values,
  out: Out,
  now: () => Date,
  fetcher: CrlFetcher | undefined,
): Promise<number> {
  if (!file) throw new UsageError('inspect: which certificate file?');
  const lang = v.lang ?? 'pt-BR';
  if (!isLocale(lang)) throw new UsageError('--lang: pt-BR, en or es');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
  const { trust, crls, reports } = await loadStores(v, now);
  // A file may hold the chain after the client certificate, as a TLS client sends it.
  let presented: ReturnType<typeof decodeCertificates> = [];
  try {
    presented = decodeCertificates(bytes).slice(1);
  } catch {
    // unreadable: checkCertificate says so
  }
  const validator = createCertificateValidator({ trust, crls, now });
  let decision = await checkCertificate(validator, bytes, { presented });
  if (v.fetch) {
    // The first decision noted the certificate's distribution points (if it chains to a root); fetch them and decide again.
    const refresher = createCrlRefresher({
      store: crls,
      fetcher: fetcher ?? createHttpCrlFetcher(),
      intervalSeconds: 3600,
      now,
    });
    reports.push(...(await refresher.refresh()));
    decision = await checkCertificate(validator, bytes, { presented });
  }
  const t = createI18n().translator(lang);
  const message = decision.reason ? t(decision.reason) : null;
  if (v.json) {
    out.log(JSON.stringify(inspectionJson(decision, message), null, 2));
  } else {
    const r = decision.read;
    const lines = [
      decision.accepted
        ? `accepted${decision.crl === 'grace' ? ' (on a CRL past its nextUpdate, within the grace period)' : ''}`
        : `refused: ${decision.reason} — ${message}`,
    ];
    const row = (label: string, value: string | null | undefined) => {
      if (value) lines.push(`  ${label.padEnd(12)} ${value}`);
    };
    row('kind', r.kind ? `${r.kind}${r.level ? ` ${r.level}` : ''}` : null);
    row('name', r.name);
    row('cpf', r.cpf && /^\d{11}$/.test(r.cpf) ? formatCpf(r.cpf) : r.cpf);
    row('birthdate', r.birthdate);
    row('company', r.companyName);
    row('cnpj', r.cnpj && r.cnpj.length === 14 ? formatCnpj(r.cnpj) : r.cnpj);
    row('subject', decision.certificate?.subject);
    row('issuer', decision.certificate?.issuer);
    row('serial', decision.certificate?.serial);
    row('valid until', decision.certificate?.notAfter.toISOString());
    out.log(lines.join('\n'));
  }
  for (const r of reports) if (!r.ok) out.error(`CRL not used: ${r.source}: ${r.error}`);
  for (const p of trust.problems) out.error(`not trusted: ${p.file}: ${p.error}`);
  return decision.accepted ? 0 : 1;
}

async function trustList(
  v: Values,
  out: Out,
  now: () => Date,
  fetcher: CrlFetcher | undefined,
): Promise<number> {
  if (!v.trust) throw new UsageError('trust: --trust DIR is required');
  const { trust, crls, reports, grace } = await loadStores(v, now);
  if (v.fetch) {
    const refresher = createCrlRefresher({
      store: crls,
      fetcher: fetcher ?? createHttpCrlFetcher(),
      intervalSeconds: 3600,
      now,
    });
    reports.push(...(await refresher.refresh()));
  }
  const at = now();
  const describe = (ca: TrustedCertificate) => ({
    subject: ca.subject,
    fingerprint: ca.fingerprint,
    notAfter: ca.notAfter.toISOString(),
    file: ca.file,
    crl: freshness(crls, ca, at, grace),
  });
  const result = {
    roots: trust.roots.map(describe),
    intermediates: trust.intermediates.map(describe),
    problems: [
      ...trust.problems,
      ...reports.filter((r) => !r.ok).map((r) => ({ file: r.source, error: r.error ?? '' })),
    ],
  };
  if (v.json) {
    out.log(JSON.stringify(result, null, 2));
  } else {
    const lines: string[] = [];
    for (const [title, list] of [
      ['roots', result.roots],
      ['intermediates', result.intermediates],
    ] as const) {
      lines.push(`${title} (${list.length})`);
      for (const ca of list) {
        const crl =
          ca.crl.state === 'missing'
            ? 'no CRL'
            : `CRL ${ca.crl.state}, ${humanAge(ca.crl.ageSeconds)} old, next ${ca.crl.nextUpdate ?? '—'}, ${ca.crl.revoked} revoked`;
        lines.push(
          `  ${ca.subject}\n    until ${ca.notAfter}  sha256 ${ca.fingerprint.slice(0, 16)}…  ${crl}`,
        );
      }
    }
    for (const p of result.problems) lines.push(`skipped ${p.file}: ${p.error}`);
    out.log(lines.join('\n'));
  }
  return trust.roots.length > 0 ? 0 : 1;
}

/** Runs `cidadela cert ...`; returns the process exit code. `now` and `fetcher` are for tests. */
export async function certCommand(
  args: string[],
  out: Out,
  { now = () => new Date(), fetcher }: { now?: () => Date; fetcher?: CrlFetcher } = {},
): Promise<number> {
  const [command, ...rest] = args;
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true });
  } catch (error) {
    out.error(`${(error as Error).message}\n\n${CERT_USAGE}`);
    return 2;
  }
  if (!command || command === 'help' || command === '--help' || parsed.values.help) {
    out.log(CERT_USAGE);
    return command ? 0 : 2;
  }
  try {
    if (command === 'inspect') return await inspect(parsed.positionals[0], parsed.values, out, now, fetcher);
    if (command === 'trust') return await trustList(parsed.values, out, now, fetcher);
    out.error(CERT_USAGE);
    return 2;
  } catch (error) {
    if (error instanceof UsageError) {
      out.error(error.message);
      return 2;
    }
    throw error;
  }
}
