import { AsnConvert } from '@peculiar/asn1-schema';
import { id_ce_subjectAltName, SubjectAlternativeName } from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { normalizeCnpj } from '../../identity/cnpj.ts';
import { normalizeCpf } from '../../identity/cpf.ts';
import { CertificatePolicyExtension, type X509Certificate } from './x509.ts';

/**
 * Who an ICP-Brasil certificate names (DOC-ICP-04), read from its SubjectAltName otherName values
 * and cross-checked with the subject. This says nothing about whether the certificate is to be
 * believed: that is validator.ts, kept apart as Keycloak keeps identity extraction apart from
 * certificate validation, so each can be tested and changed alone.
 */

/** The otherName types of DOC-ICP-04 this reader knows. */
export const ICP_OTHER_NAME = {
  /** e-CPF holder: birth date, CPF, NIS, RG, RG issuer and UF. */
  holder: '2.16.76.1.3.1',
  /** e-CNPJ: name of the person responsible for the company. */
  responsibleName: '2.16.76.1.3.2',
  /** e-CNPJ: the company's CNPJ. */
  cnpj: '2.16.76.1.3.3',
  /** e-CNPJ: the responsible person, same layout as the e-CPF holder. */
  responsible: '2.16.76.1.3.4',
  /** e-CPF: voter id (título de eleitor), zone, section, city and UF. */
  voterId: '2.16.76.1.3.5',
  /** e-CPF: the holder's CEI (INSS registration). */
  personCei: '2.16.76.1.3.6',
  /** e-CNPJ: the company's CEI. */
  companyCei: '2.16.76.1.3.7',
} as const;

/** certificatePolicies arcs: A1 keys live in software, A3 on a token, smart card or HSM. */
const POLICY_ARC = { A1: '2.16.76.1.2.1.', A3: '2.16.76.1.2.3.' } as const;

const SUBJECT_SERIAL_NUMBER = '2.5.4.5';

export type CertificateKind = 'e-CPF' | 'e-CNPJ';
export type CertificateLevel = 'A1' | 'A3';

/** Why a certificate's identity was refused; each is also the message key in locales/. */
export type IcpReason =
  | 'cert.unreadable'
  | 'cert.not_icp_brasil'
  | 'cert.other_name_invalid'
  | 'cert.cpf_invalid'
  | 'cert.cnpj_invalid'
  | 'cert.cpf_mismatch'
  | 'cert.cnpj_mismatch'
  | 'cert.level_unknown';

export type IcpIdentity = {
  kind: CertificateKind;
  level: CertificateLevel;
  /** The certificatePolicies OID the level was read from. */
  policy: string;
  /** e-CPF: the holder (from the CN); e-CNPJ: the responsible person (otherName .3.2). */
  name: string | null;
  /** e-CPF: the holder's; e-CNPJ: the responsible person's. 11 digits. */
  cpf: string;
  /** YYYY-MM-DD; null when the certificate carries zeros. */
  birthdate: string | null;
  nis: string | null;
  rg: string | null;
  rgIssuer: string | null;
  voterId: string | null;
  cei: string | null;
  /** e-CNPJ only: 14 characters, numeric or alphanumeric. */
  cnpj: string | null;
  companyName: string | null;
  /** The SubjectAltName rfc822Name, when there is one. */
  email: string | null;
};

export type IcpReading =
  | { ok: true; identity: IcpIdentity }
  /** `read` holds what could be read before the refusal, for the operator's CLI and logs. */
  | { ok: false; reason: IcpReason; read: Partial<IcpIdentity> };

type SanValues = { otherNames: Map<string, string>; email: string | null };

class Refusal extends Error {
  readonly reason: IcpReason;
  constructor(reason: IcpReason) {
    super(reason);
    this.reason = reason;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** An otherName value: OCTET STRING (ASCII), PrintableString or UTF8String, as DOC-ICP-04 allows. */
function otherNameText(der: ArrayBuffer): string {
  const { offset, result } = asn1js.fromBER(der);
  if (offset === -1) throw new Refusal('cert.other_name_invalid');
  if (result instanceof asn1js.OctetString) {
    const bytes = result.valueBlock.valueHexView;
    try {
      return utf8.decode(bytes);
    } catch {
      return Buffer.from(bytes).toString('latin1');
    }
  }
  if (result instanceof asn1js.PrintableString || result instanceof asn1js.Utf8String)
    return result.getValue();
  throw new Refusal('cert.other_name_invalid');
}

/** The SubjectAltName read with asn1-x509: @peculiar/x509's own view drops unknown otherNames. */
function sanValues(cert: X509Certificate): SanValues {
  const otherNames = new Map<string, string>();
  let email: string | null = null;
  const extension = cert.getExtension(id_ce_subjectAltName);
  if (!extension) return { otherNames, email };
  let names: SubjectAlternativeName;
  try {
    names = AsnConvert.parse(extension.value, SubjectAlternativeName);
  } catch {
    throw new Refusal('cert.other_name_invalid');
  }
  for (const name of names) {
    if (name.otherName) {
      const id = name.otherName.typeId;
      if (!(Object.values(ICP_OTHER_NAME) as string[]).includes(id)) continue;
      // Two values of one type would leave it to chance which CPF is believed.
      if (otherNames.has(id)) throw new Refusal('cert.other_name_invalid');
      otherNames.set(id, otherNameText(name.otherName.value));
    } else if (name.rfc822Name && email === null) {
      email = name.rfc822Name;
    }
  }
  return { otherNames, email };
}

const zeros = (s: string) => /^0*$/.test(s);

function birthdateOf(ddmmyyyy: string): string | null {
  if (!/^\d{8}$/.test(ddmmyyyy)) throw new Refusal('cert.other_name_invalid');
  if (zeros(ddmmyyyy)) return null;
  const day = Number(ddmmyyyy.slice(0, 2));
  const month = Number(ddmmyyyy.slice(2, 4));
  const year = Number(ddmmyyyy.slice(4));
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    throw new Refusal('cert.other_name_invalid');
  }
  return `${ddmmyyyy.slice(4)}-${ddmmyyyy.slice(2, 4)}-${ddmmyyyy.slice(0, 2)}`;
}

type PersonFields = Pick<IcpIdentity, 'birthdate' | 'cpf' | 'nis' | 'rg' | 'rgIssuer'>;

/**
 * The holder layout (.3.1 and .3.4): birth date ddmmyyyy (8), CPF (11), NIS (11), RG (15), RG
 * issuer and UF (0 to 10): 45 to 55 characters, absent numbers filled with zeros.
 */
function personFields(value: string, read: Partial<IcpIdentity>): PersonFields {
  if (value.length < 45 || value.length > 55) throw new Refusal('cert.other_name_invalid');
  const cpfText = value.slice(8, 19);
  const nis = value.slice(19, 30);
  const rg = value.slice(30, 45).trim();
  const rgIssuer = value.slice(45).trim();
  if (!/^\d{11}$/.test(cpfText) || !/^\d{11}$/.test(nis) || !/^[0-9A-Za-z.\-/ ]*$/.test(rg)) {
    throw new Refusal('cert.other_name_invalid');
  }
  read.cpf = cpfText;
  read.birthdate = birthdateOf(value.slice(0, 8));
  read.nis = zeros(nis) ? null : nis;
  read.rg = zeros(rg) ? null : rg.replace(/^0+/, '');
  read.rgIssuer = rgIssuer === '' || zeros(rgIssuer) ? null : rgIssuer;
  const cpf = normalizeCpf(cpfText);
  if (!cpf) throw new Refusal('cert.cpf_invalid');
  return { birthdate: read.birthdate, cpf, nis: read.nis, rg: read.rg, rgIssuer: read.rgIssuer };
}

/** `2.16.76.1.2.1.n` is A1, `2.16.76.1.2.3.n` A3; the subject's OU text ("e-CPF A3") is never believed. */
function levelOf(cert: X509Certificate): { level: CertificateLevel; policy: string } {
  let policies: readonly string[];
  try {
    policies = cert.getExtension(CertificatePolicyExtension)?.policies ?? [];
  } catch {
    throw new Refusal('cert.level_unknown');
  }
  const found = policies.flatMap((policy) =>
    (Object.entries(POLICY_ARC) as [CertificateLevel, string][])
      .filter(([, arc]) => policy.startsWith(arc) && /^\d+$/.test(policy.slice(arc.length)))
      .map(([level]) => ({ level, policy })),
  );
  const levels = new Set(found.map((f) => f.level));
  if (levels.size !== 1) throw new Refusal('cert.level_unknown');
  return found[0]!;
}

/** "NAME:NUMBER" split at the last colon; the number only when it looks like one. */
function splitCommonName(cn: string | undefined): { label: string | null; number: string | null } {
  if (!cn) return { label: null, number: null };
  const colon = cn.lastIndexOf(':');
  const suffix = colon < 0 ? '' : cn.slice(colon + 1).trim();
  if (colon >= 0 && /^[0-9A-Za-z]{8,18}$/.test(suffix) && /\d/.test(suffix)) {
    return { label: cn.slice(0, colon).trim() || null, number: suffix.toUpperCase() };
  }
  return { label: cn.trim() || null, number: null };
}

/** The subject serialNumber newer certificates carry ("12345678909", "CPF:123...", "CNPJ 12.ABC..."). */
function subjectSerialNumber(cert: X509Certificate): { cpf?: string; cnpj?: string } {
  const [raw] = cert.subjectName.getField(SUBJECT_SERIAL_NUMBER);
  if (!raw) return {};
  const cleaned = raw
    .toUpperCase()
    .replace(/^\s*(CPF|CNPJ)\s*[:=]?\s*/, '')
    .replace(/[.\-/\s]/g, '');
  if (/^\d{11}$/.test(cleaned)) return { cpf: cleaned };
  if (/^[0-9A-Z]{12}\d{2}$/.test(cleaned)) return { cnpj: cleaned };
  return {};
}

/** Reads the ICP-Brasil identity of a certificate, refusing one whose numbers are invalid or disagree. */
export function readIcpIdentity(cert: X509Certificate): IcpReading {
  const read: Partial<IcpIdentity> = {};
  try {
    const { otherNames, email } = sanValues(cert);
    read.email = email;
    const holder = otherNames.get(ICP_OTHER_NAME.holder);
    const responsible = otherNames.get(ICP_OTHER_NAME.responsible);
    const cnpjValue = otherNames.get(ICP_OTHER_NAME.cnpj);
    if (holder === undefined && responsible === undefined && cnpjValue === undefined)
      throw new Refusal('cert.not_icp_brasil');
    // Both layouts at once would make it a matter of order whose CPF signs in.
    if (holder !== undefined && (responsible !== undefined || cnpjValue !== undefined))
      throw new Refusal('cert.other_name_invalid');
    const kind: CertificateKind = holder !== undefined ? 'e-CPF' : 'e-CNPJ';
    read.kind = kind;
    const cn = splitCommonName(cert.subjectName.getField('CN')[0]);
    const serial = subjectSerialNumber(cert);

    if (kind === 'e-CPF') {
      read.name = cn.label;
      const voter = otherNames.get(ICP_OTHER_NAME.voterId);
      const cei = otherNames.get(ICP_OTHER_NAME.personCei);
      read.voterId = voter && /^\d{12}/.test(voter) && !zeros(voter.slice(0, 12)) ? voter.slice(0, 12) : null;
      read.cei = cei && /^\d+$/.test(cei.trim()) && !zeros(cei.trim()) ? cei.trim() : null;
      const person = personFields(holder!, read);
      const { level, policy } = levelOf(cert);
      Object.assign(read, { level, policy });
      if (cn.number !== null && cn.number !== person.cpf) throw new Refusal('cert.cpf_mismatch');
      if ((serial.cpf && serial.cpf !== person.cpf) || serial.cnpj) throw new Refusal('cert.cpf_mismatch');
      return {
        ok: true,
        identity: {
          kind,
          level,
          policy,
          name: cn.label,
          ...person,
          voterId: read.voterId,
          cei: read.cei,
          cnpj: null,
          companyName: null,
          email,
        },
      };
    }

    read.companyName = cn.label;
    const responsibleName = otherNames.get(ICP_OTHER_NAME.responsibleName)?.trim();
    read.name = responsibleName || null;
    const companyCei = otherNames.get(ICP_OTHER_NAME.companyCei)?.trim();
    read.cei = companyCei && /^\d+$/.test(companyCei) && !zeros(companyCei) ? companyCei : null;
    if (responsible === undefined || cnpjValue === undefined) throw new Refusal('cert.other_name_invalid');
    const person = personFields(responsible, read);
    const cnpjText = cnpjValue.trim().toUpperCase();
    if (!/^[0-9A-Z]{14}$/.test(cnpjText)) throw new Refusal('cert.other_name_invalid');
    read.cnpj = cnpjText;
    const cnpj = normalizeCnpj(cnpjText);
    if (!cnpj) throw new Refusal('cert.cnpj_invalid');
    const { level, policy } = levelOf(cert);
    Object.assign(read, { level, policy });
    if (cn.number !== null && cn.number !== cnpj) throw new Refusal('cert.cnpj_mismatch');
    if (serial.cnpj && serial.cnpj !== cnpj) throw new Refusal('cert.cnpj_mismatch');
    if (serial.cpf && serial.cpf !== person.cpf) throw new Refusal('cert.cpf_mismatch');
    return {
      ok: true,
      identity: {
        kind,
        level,
        policy,
        name: read.name,
        ...person,
        voterId: null,
        cei: read.cei,
        cnpj,
        companyName: cn.label,
        email,
      },
    };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, reason: error.reason, read };
    // A malformed extension the parsers choke on is the certificate's fault, never a 500.
    return { ok: false, reason: 'cert.unreadable', read };
  }
}
