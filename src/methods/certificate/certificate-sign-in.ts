import { sql } from 'kysely';
import type { Db } from '../../db/database.ts';
import type { Citizen, CitizenStore } from '../../identity/citizen-store.ts';
import { type CpfClaimDeps, type CpfClaimRefusal, claimCpf } from '../../identity/cpf-claims.ts';
import { CERTIFICATE_FIELDS, type FieldEvidence, type TrustLevels } from '../../identity/trust-levels.ts';
import type { VerificationStore } from '../verifications.ts';
import type { CertificateDecision } from './certificate-check.ts';
import { certificateAmr, certificateMethod } from './certificate-method.ts';
import type { IcpIdentity } from './icp-brasil.ts';

/**
 * What an accepted certificate does for an interaction: the CPF it names (e-CNPJ: the responsible
 * person's) finds the account, which is signed in with amr `hwk` (A3) or `swk` (A1) at `ouro`,
 * raised to `ouro`, and has the fields the certificate confirms marked verified; an e-CNPJ links
 * its company. No account with that CPF: the reading is kept for the interaction and registration
 * opens filled from it.
 */

export const READING_TTL_SECONDS = 60 * 60;

/** What registration needs from a certificate read in its interaction. */
export type CertificateReading = {
  identity: Pick<IcpIdentity, 'kind' | 'level' | 'cpf' | 'name' | 'birthdate' | 'cnpj' | 'companyName'>;
  issuer: string;
  serial: string;
};

export type CertificateOutcome =
  | { outcome: 'signed_in'; citizenId: string }
  | { outcome: 'register' }
  /** The account of that CPF is disabled. */
  | { outcome: 'account_unavailable' }
  /** The account already signed in this interaction may not take the certificate's CPF (`cpf_claim.<reason>`). */
  | { outcome: 'refused'; reason: CpfClaimRefusal };

/** "Joana  da Silva" and "JOANA DA SILVA" are the same name; accents are not told apart either. */
const sameName = (a: string, b: string) => {
  const norm = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').replace(/\s+/g, ' ').trim().toUpperCase();
  return norm(a) === norm(b);
};

export function evidenceOf(reading: CertificateReading): FieldEvidence {
  return { issuer: reading.issuer, serial: reading.serial, level: reading.identity.level, kind: reading.identity.kind };
}

/**
 * Marks verified the account's values the certificate confirms, raises the account to ouro and links
 * the company of an e-CNPJ. Inside the caller's transaction.
 */
export async function applyCertificate(trust: TrustLevels, trx: Db, citizen: Citizen, reading: CertificateReading): Promise<void> {
  const evidence = evidenceOf(reading);
  const { identity } = reading;
  const confirmed = CERTIFICATE_FIELDS.filter((field) => {
    if (field === 'cpf') return citizen.cpf === identity.cpf;
    if (field === 'name') return Boolean(identity.name && sameName(identity.name, citizen.name));
    return Boolean(identity.birthdate && identity.birthdate === citizen.birthdate);
  });
  await trust.verifyFields(trx, citizen.id, confirmed, 'icp_brasil', evidence);
  await trust.setLevel(trx, citizen.id, 'ouro', 'certificate', { issuer: evidence.issuer, serial: evidence.serial, level: identity.level });
  if (identity.kind === 'e-CNPJ' && identity.cnpj && identity.companyName) {
    await trust.linkCompany(trx, citizen.id, { cnpj: identity.cnpj, name: identity.companyName }, evidence);
  }
}

export function readingOf(decision: CertificateDecision): CertificateReading {
  const i = decision.identity!;
  return {
    identity: { kind: i.kind, level: i.level, cpf: i.cpf, name: i.name, birthdate: i.birthdate, cnpj: i.cnpj, companyName: i.companyName },
    issuer: decision.certificate!.issuer,
    serial: decision.certificate!.serial,
  };
}

export function createCertificateSignIn(deps: {
  db: Db;
  citizens: CitizenStore;
  verifications: VerificationStore;
  trust: TrustLevels;
  claims: CpfClaimDeps;
}) {
  const { db, citizens, verifications, trust } = deps;

  /** The account this interaction has already signed in (a password before the step-up), if one. */
  async function signedIn(uid: string): Promise<string | undefined> {
    const proofs = (await verifications.forInteraction(uid)).filter((v) => v.purpose === 'authentication');
    const ids = new Set(proofs.map((v) => v.citizenId));
    return ids.size === 1 ? [...ids][0] : undefined;
  }

  /**
   * The certificate proves a CPF to an account already signed in that does not have it (a foreign
   * account, or one whose CPF another account squatted): the CPF is claimed for it (identity/
   * cpf-claims.ts), then the certificate does for it what it does at any sign-in.
   */
  async function claimFor(uid: string, proverId: string, reading: CertificateReading): Promise<CertificateOutcome> {
    return db.transaction().execute(async (trx) => {
      const claimed = await claimCpf(trx, deps.claims, {
        proverId,
        cpf: reading.identity.cpf,
        proof: { trustFramework: 'icp_brasil', evidence: evidenceOf(reading) },
      });
      if (claimed.outcome === 'refused') return { outcome: 'refused', reason: claimed.reason } as const;
      const prover = await citizens.findById(proverId, trx);
      await verifications.record(
        {
          interactionUid: uid,
          citizenId: proverId,
          method: certificateMethod,
          amr: certificateAmr(reading.identity.level),
          detail: { issuer: reading.issuer, serial: reading.serial, level: reading.identity.level, kind: reading.identity.kind },
        },
        trx,
      );
      await applyCertificate(trust, trx, prover!, reading);
      return { outcome: 'signed_in', citizenId: proverId } as const;
    });
  }

  return {
    /** An accepted certificate presented for interaction `uid`. */
    async prove(uid: string, decision: CertificateDecision): Promise<CertificateOutcome> {
      const reading = readingOf(decision);
      const citizen = await citizens.findByIdentifier(reading.identity.cpf);
      // Proven to an account signed in already: it is that account's sign-in, never another's.
      const already = await signedIn(uid);
      if (already && already !== citizen?.id) return claimFor(uid, already, reading);
      if (!citizen) {
        await db
          .insertInto('certificate_readings')
          .values({
            interaction_uid: uid,
            identity: JSON.stringify(reading.identity),
            issuer: reading.issuer,
            serial: reading.serial,
            expires_at: sql<Date>`now() + make_interval(secs => ${READING_TTL_SECONDS})`,
          })
          .onConflict((oc) =>
            oc.column('interaction_uid').doUpdateSet({
              identity: JSON.stringify(reading.identity),
              issuer: reading.issuer,
              serial: reading.serial,
              read_at: sql<Date>`now()`,
              expires_at: sql<Date>`now() + make_interval(secs => ${READING_TTL_SECONDS})`,
            }),
          )
          .execute();
        return { outcome: 'register' };
      }
      if (citizen.status !== 'active') return { outcome: 'account_unavailable' };
      await db.transaction().execute(async (trx) => {
        await verifications.record(
          {
            interactionUid: uid,
            citizenId: citizen.id,
            method: certificateMethod,
            amr: certificateAmr(reading.identity.level),
            detail: { issuer: reading.issuer, serial: reading.serial, level: reading.identity.level, kind: reading.identity.kind },
          },
          trx,
        );
        await applyCertificate(trust, trx, citizen, reading);
      });
      return { outcome: 'signed_in', citizenId: citizen.id };
    },

    /** The certificate read in this interaction for a CPF without an account, if any. */
    async reading(uid: string, trx: Db = db): Promise<CertificateReading | undefined> {
      const row = await trx
        .selectFrom('certificate_readings')
        .selectAll()
        .where('interaction_uid', '=', uid)
        .where('expires_at', '>', sql<Date>`now()`)
        .executeTakeFirst();
      if (!row) return undefined;
      return { identity: row.identity as CertificateReading['identity'], issuer: row.issuer, serial: row.serial };
    },

    /** The account registered from the reading: its data verified, its level ouro, the proof recorded. */
    async registered(trx: Db, uid: string, citizen: Citizen, reading: CertificateReading): Promise<void> {
      await verifications.record(
        {
          interactionUid: uid,
          citizenId: citizen.id,
          method: certificateMethod,
          amr: certificateAmr(reading.identity.level),
          detail: { issuer: reading.issuer, serial: reading.serial, level: reading.identity.level, kind: reading.identity.kind },
        },
        trx,
      );
      await applyCertificate(trust, trx, citizen, reading);
      await trx.deleteFrom('certificate_readings').where('interaction_uid', '=', uid).execute();
    },

    async prune(): Promise<void> {
      await db.deleteFrom('certificate_readings').where('expires_at', '<', sql<Date>`now()`).execute();
    },
  };
}

export type CertificateSignIn = ReturnType<typeof createCertificateSignIn>;
