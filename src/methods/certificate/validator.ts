import type { CrlStore } from './crl-store.ts';
import {
  distributionPointsOf,
  fingerprintOf,
  type TrustedCertificate,
  type TrustStore,
} from './trust-store.ts';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  type X509Certificate,
  X509ChainBuilder,
} from './x509.ts';

/**
 * Whether a client certificate is to be believed: it chains to a root in the trust directory, every
 * certificate in the chain is in its validity period and signed with an accepted algorithm, the
 * client certificate may sign and authenticate a client, and no certificate in the chain is on its
 * issuer's CRL. Who the certificate names is icp-brasil.ts's business.
 *
 * The chain is built by @peculiar/x509's X509ChainBuilder (issuer by name and key identifier, then
 * by signature) and each link's signature is then checked again here, explicitly, with the date
 * and usage checks the builder does not make.
 */

/** Why a certificate was refused; each is also the message key in locales/. */
export type ValidationReason =
  | 'cert.unreadable'
  | 'cert.expired'
  | 'cert.not_yet_valid'
  | 'cert.weak_signature'
  | 'cert.weak_key'
  | 'cert.key_usage'
  | 'cert.extended_key_usage'
  | 'cert.not_end_entity'
  | 'cert.unsupported_extension'
  | 'cert.self_signed'
  | 'cert.untrusted_issuer'
  | 'cert.issuer_invalid'
  | 'cert.revoked'
  | 'cert.crl_stale';

export type ValidationResult =
  | {
      ok: true;
      /** Client certificate first, the trusted root last. */
      chain: X509Certificate[];
      anchor: TrustedCertificate;
      /** 'grace': some issuer's CRL is past its nextUpdate but within the operator's grace period. */
      crl: 'fresh' | 'grace';
    }
  | { ok: false; reason: ValidationReason };

export type CertificateValidator = {
  /** `presented`: intermediates the client sent with its certificate; used to build the chain, never trusted alone. */
  validate(
    certificate: X509Certificate,
    options?: { presented?: X509Certificate[] },
  ): Promise<ValidationResult>;
};

const CLIENT_AUTH = ExtendedKeyUsage.clientAuth as string;
const HASHES = new Set(['SHA-256', 'SHA-384', 'SHA-512']);
const SIGNATURES = new Set(['RSASSA-PKCS1-v1_5', 'RSA-PSS', 'ECDSA']);
const CURVES = new Set(['P-256', 'P-384', 'P-521']);
const MIN_RSA_BITS = 2048;
/**
 * ICP-Brasil chains are 3 or 4 long. The bounds stop a client from making the chain builder verify
 * signatures over hundreds of certificates it sent (a proxy header can carry many).
 */
const MAX_PRESENTED = 8;
const MAX_CHAIN = 8;
/** Extensions this validator understands; RFC 5280 says to refuse a certificate with any other marked critical. */
const KNOWN_CRITICAL = new Set([
  '2.5.29.15', // keyUsage
  '2.5.29.19', // basicConstraints
  '2.5.29.37', // extKeyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.32', // certificatePolicies
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
  '2.5.29.31', // cRLDistributionPoints
]);

class Refusal extends Error {
  readonly reason: ValidationReason;
  constructor(reason: ValidationReason) {
    super(reason);
    this.reason = reason;
  }
}

function checkDates(
  certificate: X509Certificate,
  at: Date,
  expired: ValidationReason,
  notYet: ValidationReason,
) {
  if (at.getTime() > certificate.notAfter.getTime()) throw new Refusal(expired);
  if (at.getTime() < certificate.notBefore.getTime()) throw new Refusal(notYet);
}

function checkSignatureAlgorithm(certificate: X509Certificate) {
  let algorithm: { name: string; hash?: { name: string } };
  try {
    algorithm = certificate.signatureAlgorithm as typeof algorithm;
  } catch {
    throw new Refusal('cert.weak_signature');
  }
  if (!SIGNATURES.has(algorithm.name) || !HASHES.has(algorithm.hash?.name ?? ''))
    throw new Refusal('cert.weak_signature');
}

function checkKey(certificate: X509Certificate) {
  const algorithm = certificate.publicKey.algorithm as {
    name: string;
    modulusLength?: number;
    namedCurve?: string;
  };
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' || algorithm.name === 'RSA-PSS') {
    if ((algorithm.modulusLength ?? 0) < MIN_RSA_BITS) throw new Refusal('cert.weak_key');
  } else if (algorithm.name === 'ECDSA') {
    if (!CURVES.has(algorithm.namedCurve ?? '')) throw new Refusal('cert.weak_key');
  } else {
    throw new Refusal('cert.weak_key');
  }
}

function checkCriticalExtensions(certificate: X509Certificate) {
  for (const extension of certificate.extensions) {
    if (extension.critical && !KNOWN_CRITICAL.has(extension.type))
      throw new Refusal('cert.unsupported_extension');
  }
}

/** The signature of `certificate` verifies with `issuer`'s key (the builder found it so; this does not take its word). */
async function signedBy(certificate: X509Certificate, issuer: X509Certificate): Promise<boolean> {
  try {
    const algorithm = { ...issuer.publicKey.algorithm, ...certificate.signatureAlgorithm };
    const key = await issuer.publicKey.export(algorithm, ['verify']);
    return await certificate.verify({ publicKey: key, signatureOnly: true });
  } catch {
    return false;
  }
}

export function createCertificateValidator({
  trust,
  crls,
  now,
}: {
  trust: TrustStore;
  crls: CrlStore;
  now: () => Date;
}): CertificateValidator {
  const trusted = trust.all.map((t) => t.certificate);

  async function validate(
    leaf: X509Certificate,
    { presented = [] }: { presented?: X509Certificate[] } = {},
  ): Promise<ValidationResult> {
    const at = now();
    try {
      // The client certificate alone first: cheap checks that name the problem the holder can act on.
      checkDates(leaf, at, 'cert.expired', 'cert.not_yet_valid');
      checkSignatureAlgorithm(leaf);
      checkKey(leaf);
      checkCriticalExtensions(leaf);
      if (leaf.getExtension(BasicConstraintsExtension)?.ca) throw new Refusal('cert.not_end_entity');
      const usage = leaf.getExtension(KeyUsagesExtension);
      if (!usage || !(usage.usages & KeyUsageFlags.digitalSignature)) throw new Refusal('cert.key_usage');
      const extended = leaf.getExtension(ExtendedKeyUsageExtension);
      if (!extended || !extended.usages.map(String).includes(CLIENT_AUTH))
        throw new Refusal('cert.extended_key_usage');

      // The chain, up to a root of the trust directory.
      let chain: X509Certificate[];
      try {
        chain = [
          ...(await new X509ChainBuilder({
            certificates: [...trusted, ...presented.slice(0, MAX_PRESENTED)],
          }).build(leaf)),
        ];
      } catch {
        throw new Refusal('cert.untrusted_issuer');
      }
      if (chain.length > MAX_CHAIN) throw new Refusal('cert.untrusted_issuer');
      const top = chain[chain.length - 1]!;
      const anchor = trust.byFingerprint(await fingerprintOf(top));
      if (!anchor || anchor.role !== 'root') {
        if (chain.length === 1 && leaf.subject === leaf.issuer && (await leaf.isSelfSigned()))
          throw new Refusal('cert.self_signed');
        throw new Refusal('cert.untrusted_issuer');
      }
      const issuers: string[] = [];
      for (let i = 1; i < chain.length; i++) {
        const ca = chain[i]!;
        const below = chain[i - 1]!;
        if (!(await signedBy(below, ca))) throw new Refusal('cert.untrusted_issuer');
        checkDates(ca, at, 'cert.issuer_invalid', 'cert.issuer_invalid');
        const constraints = ca.getExtension(BasicConstraintsExtension);
        if (!constraints?.ca) throw new Refusal('cert.issuer_invalid');
        // pathLength counts the CA certificates below this one, the client certificate not included.
        if (constraints.pathLength !== undefined && i - 1 > constraints.pathLength)
          throw new Refusal('cert.issuer_invalid');
        const caUsage = ca.getExtension(KeyUsagesExtension);
        if (caUsage && !(caUsage.usages & KeyUsageFlags.keyCertSign))
          throw new Refusal('cert.issuer_invalid');
        if (i < chain.length - 1) {
          checkSignatureAlgorithm(ca);
          checkKey(ca);
          checkCriticalExtensions(ca);
        }
        issuers.push(await fingerprintOf(ca));
      }

      // A trusted CA vouched for these addresses, so the refresher may fetch them (in the background).
      crls.noteDistributionPoints(chain.slice(0, -1).flatMap(distributionPointsOf));

      // Revocation: every certificate below the root against its issuer's list, from memory only.
      let stale = false;
      let grace = false;
      for (let i = 0; i < issuers.length; i++) {
        const status = crls.check(issuers[i]!, chain[i]!.serialNumber);
        if (status.state === 'revoked') throw new Refusal('cert.revoked');
        if (status.state === 'stale') stale = true;
        else if (status.crl === 'grace') grace = true;
      }
      if (stale) throw new Refusal('cert.crl_stale');
      return { ok: true, chain, anchor, crl: grace ? 'grace' : 'fresh' };
    } catch (error) {
      if (error instanceof Refusal) return { ok: false, reason: error.reason };
      // A malformed extension or key the parsers choke on is the certificate's fault, never a 500.
      return { ok: false, reason: 'cert.unreadable' };
    }
  }

  return { validate };
}
