import { type CertificateDecision, checkCertificate } from './certificate-check.ts';
import {
  type CrlFetcher,
  type CrlRefresher,
  type CrlStore,
  createCrlRefresher,
  createCrlStore,
  createHttpCrlFetcher,
} from './crl-store.ts';
import { loadTrustDirectory, type TrustStore } from './trust-store.ts';
import { type CertificateValidator, createCertificateValidator } from './validator.ts';
import type { CertificateInput, X509Certificate } from './x509.ts';

type Log = { warn(object: object, message: string): void; info(object: object, message: string): void };

export type CertificateRuntime = {
  trust: TrustStore;
  crls: CrlStore;
  validator: CertificateValidator;
  refresher: CrlRefresher;
  /** The sign-in's one call: decode, validate from memory, read the identity. */
  check(
    input: CertificateInput | X509Certificate,
    presented?: X509Certificate[],
  ): Promise<CertificateDecision>;
  /** Loads the CRL directory and fetches the distribution points once; resolves when that first pass is done. */
  start(): Promise<void>;
  stop(): void;
};

/**
 * Everything the server needs to check client certificates, built from the operator's settings.
 * Loading the trust directory is the only work done here; CRLs come in with `start()`, which the
 * server calls once, off the request path (until they arrive, the grace period applies).
 */
export async function createCertificateRuntime({
  trustDir,
  crlDir,
  graceSeconds,
  refreshSeconds,
  fetcher = createHttpCrlFetcher(),
  now = () => new Date(),
  log,
}: {
  trustDir: string;
  crlDir?: string | undefined;
  graceSeconds: number;
  refreshSeconds: number;
  /** null: only the CRL directory (an air-gapped installation). */
  fetcher?: CrlFetcher | null;
  now?: () => Date;
  log?: Log;
}): Promise<CertificateRuntime> {
  const trust = await loadTrustDirectory(trustDir);
  for (const problem of trust.problems) log?.warn(problem, 'skipped in the certificate trust directory');
  if (trust.roots.length === 0)
    log?.warn({ trustDir }, 'no root certificate in the trust directory: every certificate will be refused');
  const crls = createCrlStore({ trust, now, graceSeconds });
  const validator = createCertificateValidator({ trust, crls, now });
  const refresher = createCrlRefresher({
    store: crls,
    fetcher,
    crlDir,
    intervalSeconds: refreshSeconds,
    now,
    log,
  });
  return {
    trust,
    crls,
    validator,
    refresher,
    check: (input, presented = []) => checkCertificate(validator, input, { presented }),
    async start() {
      refresher.start();
      await refresher.refresh();
    },
    stop: () => refresher.stop(),
  };
}
