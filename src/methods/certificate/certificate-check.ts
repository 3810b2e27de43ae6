import { type IcpIdentity, type IcpReason, readIcpIdentity } from './icp-brasil.ts';
import type { CertificateValidator, ValidationReason } from './validator.ts';
import { type CertificateInput, decodeCertificate, type X509Certificate } from './x509.ts';

/**
 * One decision about a client certificate: believed (validator.ts) and naming someone
 * (icp-brasil.ts). The sign-in method and `cidadela cert inspect` both ask here, so an operator's
 * inspection and a citizen's sign-in cannot disagree.
 */

export type CertificateReason = ValidationReason | IcpReason;

export type CertificateFacts = {
  subject: string;
  issuer: string;
  /** Hex, as the issuer's CRL lists it. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
};

export type CertificateDecision = {
  accepted: boolean;
  /** null when accepted; otherwise the first reason, validation before identity. */
  reason: CertificateReason | null;
  /** The identity when the certificate names someone without contradictions (even if not believed). */
  identity: IcpIdentity | null;
  /** Whatever could be read, also when the identity was refused. */
  read: Partial<IcpIdentity>;
  certificate: CertificateFacts | null;
  /** 'grace': accepted on a CRL past its nextUpdate, within the grace period (worth a log line). */
  crl: 'fresh' | 'grace' | null;
};

export async function checkCertificate(
  validator: CertificateValidator,
  input: CertificateInput | X509Certificate,
  options: { presented?: X509Certificate[] } = {},
): Promise<CertificateDecision> {
  const certificate =
    typeof input === 'string' || input instanceof Uint8Array ? decodeCertificate(input) : input;
  if (!certificate)
    return {
      accepted: false,
      reason: 'cert.unreadable',
      identity: null,
      read: {},
      certificate: null,
      crl: null,
    };
  const facts: CertificateFacts = {
    subject: certificate.subject,
    issuer: certificate.issuer,
    serial: certificate.serialNumber,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
  const reading = readIcpIdentity(certificate);
  const identity = reading.ok ? reading.identity : null;
  const read = reading.ok ? reading.identity : reading.read;
  const validation = await validator.validate(certificate, options);
  if (!validation.ok)
    return { accepted: false, reason: validation.reason, identity, read, certificate: facts, crl: null };
  if (!reading.ok)
    return {
      accepted: false,
      reason: reading.reason,
      identity: null,
      read,
      certificate: facts,
      crl: validation.crl,
    };
  return { accepted: true, reason: null, identity, read, certificate: facts, crl: validation.crl };
}
