import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  decodeCertificates,
  type X509Certificate,
} from './x509.ts';

/**
 * The certificates the operator trusts: ICP-Brasil's roots (AC Raiz v5, v10, v11, v12) and the
 * intermediates below them, read once from files. Roots are the anchors; intermediates only help
 * build chains (they must themselves chain to a root) and are the issuers whose CRLs we can verify.
 */

export type TrustedCertificate = {
  certificate: X509Certificate;
  role: 'root' | 'intermediate';
  /** SHA-256 of the DER, lower-case hex: the key CRLs are filed under. */
  fingerprint: string;
  subject: string;
  notAfter: Date;
  file: string | null;
};

export type TrustStore = {
  roots: TrustedCertificate[];
  intermediates: TrustedCertificate[];
  all: TrustedCertificate[];
  byFingerprint(fingerprint: string): TrustedCertificate | undefined;
  /** Files (or entries) that were skipped, with why: an operator reads these in `cidadela cert trust`. */
  problems: { file: string; error: string }[];
};

export async function fingerprintOf(certificate: X509Certificate): Promise<string> {
  return Buffer.from(await certificate.getThumbprint('SHA-256')).toString('hex');
}

function isCa(certificate: X509Certificate): boolean {
  return certificate.getExtension(BasicConstraintsExtension)?.ca === true;
}

/** The http(s) CRL distribution points a certificate names (LDAP ones are left out: nothing here speaks LDAP). */
export function distributionPointsOf(certificate: X509Certificate): string[] {
  const urls: string[] = [];
  try {
    for (const point of certificate.getExtension(CRLDistributionPointsExtension)?.distributionPoints ?? []) {
      for (const name of point.distributionPoint?.fullName ?? []) {
        const uri = name.uniformResourceIdentifier;
        if (uri && /^https?:\/\//i.test(uri)) urls.push(uri);
      }
    }
  } catch {
    // A malformed extension names no point; the certificate is judged by the validator.
  }
  return urls;
}

export async function createTrustStore(
  entries: { certificate: X509Certificate; file?: string }[],
  problems: { file: string; error: string }[] = [],
): Promise<TrustStore> {
  const byFingerprint = new Map<string, TrustedCertificate>();
  for (const { certificate, file = null } of entries) {
    const label = file ?? certificate.subject;
    let ca = false;
    try {
      ca = isCa(certificate);
    } catch {
      // falls through to the problem below
    }
    if (!ca) {
      problems.push({ file: label, error: `not a CA certificate: ${certificate.subject}` });
      continue;
    }
    const fingerprint = await fingerprintOf(certificate);
    if (byFingerprint.has(fingerprint)) continue;
    const root = certificate.subject === certificate.issuer && (await certificate.isSelfSigned());
    byFingerprint.set(fingerprint, {
      certificate,
      role: root ? 'root' : 'intermediate',
      fingerprint,
      subject: certificate.subject,
      notAfter: certificate.notAfter,
      file,
    });
  }
  const all = [...byFingerprint.values()];
  return {
    roots: all.filter((t) => t.role === 'root'),
    intermediates: all.filter((t) => t.role === 'intermediate'),
    all,
    byFingerprint: (fingerprint) => byFingerprint.get(fingerprint),
    problems,
  };
}

/** Every certificate file in a directory (DER, PEM, PEM bundles; any extension); unreadable files become problems. */
export async function loadTrustDirectory(dir: string): Promise<TrustStore> {
  const entries: { certificate: X509Certificate; file: string }[] = [];
  const problems: { file: string; error: string }[] = [];
  const names = (await readdir(dir, { withFileTypes: true })).filter(
    (e) => e.isFile() && !e.name.startsWith('.'),
  );
  for (const entry of names.sort((a, b) => a.name.localeCompare(b.name))) {
    const file = join(dir, entry.name);
    try {
      for (const certificate of decodeCertificates(await readFile(file))) entries.push({ certificate, file });
    } catch (error) {
      problems.push({ file, error: `not a certificate: ${(error as Error).message}` });
    }
  }
  return createTrustStore(entries, problems);
}
