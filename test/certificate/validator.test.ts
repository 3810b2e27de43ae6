import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { checkCertificate } from '../../src/methods/certificate/certificate-check.ts';
import { type CrlStore, createCrlStore, loadCrlDirectory } from '../../src/methods/certificate/crl-store.ts';
import {
  createTrustStore,
  loadTrustDirectory,
  type TrustStore,
} from '../../src/methods/certificate/trust-store.ts';
import { createCertificateValidator } from '../../src/methods/certificate/validator.ts';
import {
  CERTIFICATE_NAMES,
  type CertificateName,
  createTestPki,
  type TestPki,
} from '../fixtures/test-pki.ts';

const HOUR = 3600 * 1000;
import { REAL_EXPIRED_ECPF as REAL_EXPIRED, realCertificateSkip } from '../fixtures/real-certificate.ts';

/** What each test certificate must come to, against the test PKI's trust and CRL directories. */
const EXPECTED: Record<CertificateName, string | null> = {
  'ecpf-a1-octet': null,
  'ecpf-a1-printable': null,
  'ecpf-a1-utf8': null,
  'ecpf-a3-octet': null,
  'ecpf-a3-printable': null,
  'ecpf-a3-utf8': null,
  'ecpf-ecdsa': null,
  'ecnpj-a3-alphanumeric': null,
  'ecnpj-a1-numeric': null,
  'other-name-45': null,
  'other-name-55': null,
  'other-name-44': 'cert.other_name_invalid',
  expired: 'cert.expired',
  'not-yet-valid': 'cert.not_yet_valid',
  revoked: 'cert.revoked',
  'revoked-issuer': 'cert.revoked',
  'issuer-expired': 'cert.issuer_invalid',
  'stale-crl': 'cert.crl_stale',
  'foreign-root': 'cert.untrusted_issuer',
  'self-signed': 'cert.self_signed',
  'wrong-key-usage': 'cert.key_usage',
  'no-client-auth': 'cert.extended_key_usage',
  'ca-as-client': 'cert.not_end_entity',
  'weak-signature': 'cert.weak_signature',
  'weak-key': 'cert.weak_key',
  'cn-mismatch': 'cert.cpf_mismatch',
  'serial-number-mismatch': 'cert.cpf_mismatch',
  'ecnpj-cn-mismatch': 'cert.cnpj_mismatch',
  'bad-cpf': 'cert.cpf_invalid',
  'bad-cnpj': 'cert.cnpj_invalid',
  'no-icp-policy': 'cert.level_unknown',
  'not-icp': 'cert.not_icp_brasil',
};

describe('validating client certificates against the trust and CRL directories', () => {
  let pki: TestPki;
  let trust: TrustStore;

  before(async () => {
    pki = await createTestPki();
    trust = await loadTrustDirectory(pki.trustDir);
  });
  after(() => pki?.remove());

  /** A validator over the PKI's directories at `at`, with `graceSeconds` for stale CRLs. */
  async function setup({ at = pki.now, graceSeconds = 0, loadCrls = true } = {}) {
    let clock = at;
    const crls = createCrlStore({ trust, now: () => clock, graceSeconds });
    if (loadCrls) {
      const reports = await loadCrlDirectory(crls, pki.crlDir);
      assert.ok(
        reports.every((r) => r.ok),
        JSON.stringify(reports),
      );
    }
    const validator = createCertificateValidator({ trust, crls, now: () => clock });
    return { crls, validator, setClock: (d: Date) => (clock = d) };
  }

  test('the trust directory: DER, PEM and a PEM bundle; one root, four intermediates', () => {
    assert.deepEqual(trust.problems, []);
    assert.deepEqual(
      trust.roots.map((r) => r.subject),
      [pki.root.certificate.subject],
    );
    assert.equal(trust.intermediates.length, 4);
    assert.ok(
      trust.intermediates.some((t) => t.file?.endsWith('ac-rfb.cer')),
      'the DER intermediate was read',
    );
  });

  for (const name of CERTIFICATE_NAMES) {
    const expected = EXPECTED[name];
    test(`${name}: ${expected ?? 'accepted'}`, async () => {
      const { validator } = await setup();
      const decision = await checkCertificate(validator, pki.certs[name].pem);
      assert.equal(decision.reason, expected, JSON.stringify(decision.read));
      assert.equal(decision.accepted, expected === null);
      if (expected === null) {
        assert.ok(decision.identity);
        assert.equal(decision.crl, 'fresh');
      }
    });
  }

  test('a DER file and a URL-encoded PEM (as nginx forwards it) are read the same', async () => {
    const { validator } = await setup();
    const der = await checkCertificate(validator, readFileSync(pki.certs['ecpf-a1-octet'].file));
    assert.equal(der.accepted, true);
    const escaped = await checkCertificate(validator, encodeURIComponent(pki.certs['ecpf-a3-utf8'].pem));
    assert.equal(escaped.accepted, true);
    assert.equal(escaped.identity?.level, 'A3');
    const garbage = await checkCertificate(validator, 'not a certificate');
    assert.equal(garbage.reason, 'cert.unreadable');
  });

  test('an intermediate the client presents builds the chain, but is not trusted alone', async () => {
    // A trust directory with the root only: the leaf's issuer arrives from the client.
    const rootOnly = await createTrustStore([{ certificate: pki.root.certificate }]);
    const crls = createCrlStore({ trust: rootOnly, now: () => pki.now, graceSeconds: 0 });
    await loadCrlDirectory(crls, pki.crlDir);
    const validator = createCertificateValidator({ trust: rootOnly, crls, now: () => pki.now });
    const leaf = pki.certs['ecpf-a1-octet'].certificate;
    assert.equal((await validator.validate(leaf)).ok, false, 'without the intermediate there is no chain');
    const withChain = await validator.validate(leaf, { presented: [pki.intermediate.certificate] });
    // The chain reaches the root, but the intermediate's CRL cannot be verified without it in the trust directory.
    assert.deepEqual(withChain, { ok: false, reason: 'cert.crl_stale' });
    const foreign = await validator.validate(pki.certs['foreign-root'].certificate, {
      presented: [pki.foreignRoot.certificate],
    });
    assert.deepEqual(
      foreign,
      { ok: false, reason: 'cert.untrusted_issuer' },
      'a presented root is not an anchor',
    );
  });

  test('a stale CRL is accepted within the grace period, refused after it', async () => {
    const leaf = pki.certs['ecpf-a1-octet'].certificate;
    // The PKI's CRLs say nextUpdate = now + 1 day.
    const { validator, setClock } = await setup({ graceSeconds: 6 * 3600 });
    setClock(new Date(pki.now.getTime() + 24 * HOUR + HOUR));
    assert.deepEqual(await validator.validate(leaf).then((r) => (r.ok ? r.crl : r.reason)), 'grace');
    setClock(new Date(pki.now.getTime() + 24 * HOUR + 7 * HOUR));
    assert.deepEqual(await validator.validate(leaf), { ok: false, reason: 'cert.crl_stale' });
  });

  test('an issuer with no CRL at all: the grace period counts from the start, then refused', async () => {
    const leaf = pki.certs['ecpf-a1-octet'].certificate;
    const { validator, setClock } = await setup({ graceSeconds: 600, loadCrls: false });
    const first = await validator.validate(leaf);
    assert.ok(first.ok && first.crl === 'grace', JSON.stringify(first));
    setClock(new Date(pki.now.getTime() + 601_000));
    assert.deepEqual(await validator.validate(leaf), { ok: false, reason: 'cert.crl_stale' });
  });

  test('a revoked certificate stays revoked when its CRL grows stale', async () => {
    const { validator, setClock } = await setup({ graceSeconds: 0 });
    setClock(new Date(pki.now.getTime() + 30 * 24 * HOUR));
    assert.deepEqual(await validator.validate(pki.certs.revoked.certificate), {
      ok: false,
      reason: 'cert.revoked',
    });
  });

  test('the CRL store refuses forged, foreign and older lists', async () => {
    const { crls, validator } = await setup();
    const revokedLeaf = pki.certs['ecpf-a1-printable'].certificate;
    // Signed with another CA's key under the intermediate's name: a forgery.
    const forged = await pki.makeCrl(pki.intermediate, {
      revoked: [revokedLeaf],
      signer: pki.foreignRoot.keys,
    });
    const forgedResult = await crls.add(new Uint8Array(forged.rawData), 'forged');
    assert.equal(forgedResult.ok, false);
    assert.match(forgedResult.ok ? '' : forgedResult.error, /signature does not verify/);
    const foreign = await crls.add(new Uint8Array((await pki.makeCrl(pki.foreignRoot)).rawData), 'foreign');
    assert.match(foreign.ok ? '' : foreign.error, /not in the trust directory/);
    // An older list (before a revocation) must not replace a newer one: replaying it would un-revoke.
    const older = await pki.makeCrl(pki.intermediate, {
      thisUpdate: new Date(pki.now.getTime() - 48 * HOUR),
    });
    const olderResult = await crls.add(older.toString('pem'), 'older');
    assert.ok(olderResult.ok && !olderResult.replaced);
    assert.deepEqual(await validator.validate(pki.certs.revoked.certificate), {
      ok: false,
      reason: 'cert.revoked',
    });
    assert.equal((await validator.validate(revokedLeaf)).ok, true);
    // A newer list that revokes it does replace.
    const newer = await pki.makeCrl(pki.intermediate, {
      thisUpdate: new Date(pki.now.getTime() - 60_000),
      revoked: [revokedLeaf],
    });
    const newerResult = await crls.add(new Uint8Array(newer.rawData), 'newer');
    assert.ok(newerResult.ok && newerResult.replaced);
    assert.deepEqual(await validator.validate(revokedLeaf), { ok: false, reason: 'cert.revoked' });
  });

  test('validation reads the store only: no CRL is added or fetched on the validation path', async () => {
    const { crls } = await setup({ loadCrls: false, graceSeconds: 0 });
    let adds = 0;
    const watched: CrlStore = {
      ...crls,
      add: (...args) => {
        adds++;
        return crls.add(...args);
      },
    };
    const watchedValidator = createCertificateValidator({ trust, crls: watched, now: () => pki.now });
    assert.deepEqual(await watchedValidator.validate(pki.certs['ecpf-a1-octet'].certificate), {
      ok: false,
      reason: 'cert.crl_stale',
    });
    assert.equal(adds, 0);
    // It only remembered where the list is, for the refresher.
    assert.ok(crls.distributionPoints().includes(pki.crlUrl(pki.intermediate)));
  });

  test('the real expired e-CPF: refused as expired; in 2016 it would not chain to our roots', { skip: realCertificateSkip }, async () => {
    const pem = readFileSync(REAL_EXPIRED, 'utf8');
    const { validator } = await setup();
    const decision = await checkCertificate(validator, pem);
    assert.equal(decision.reason, 'cert.expired');
    assert.equal(decision.identity?.cpf, '80767940130');
    assert.equal(decision.identity?.birthdate, '1978-12-10');
    assert.equal(decision.certificate?.notAfter.toISOString(), '2016-06-29T14:05:45.000Z');
    const { validator: in2016 } = await setup({ at: new Date('2016-01-15T12:00:00Z') });
    assert.equal((await checkCertificate(in2016, pem)).reason, 'cert.untrusted_issuer');
  });
});
