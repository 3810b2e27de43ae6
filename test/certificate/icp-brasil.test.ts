import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { readIcpIdentity } from '../../src/methods/certificate/icp-brasil.ts';
import { decodeCertificate } from '../../src/methods/certificate/x509.ts';
import { createTestPki, PEOPLE, type TestPki } from '../fixtures/test-pki.ts';

import { REAL_EXPIRED_ECPF as REAL_EXPIRED, realCertificateSkip } from '../fixtures/real-certificate.ts';

/** What a certificate says about who holds it, apart from whether it is to be believed. */
describe('reading an ICP-Brasil identity', () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(() => pki?.remove());

  const read = (name: keyof TestPki['certs']) => readIcpIdentity(pki.certs[name].certificate);

  for (const level of ['a1', 'a3'] as const) {
    for (const encoding of ['octet', 'printable', 'utf8'] as const) {
      test(`e-CPF ${level.toUpperCase()} with otherName values as ${encoding} string`, () => {
        const reading = read(`ecpf-${level}-${encoding}`);
        assert.ok(reading.ok, JSON.stringify(reading));
        const id = reading.identity;
        assert.equal(id.kind, 'e-CPF');
        assert.equal(id.level, level.toUpperCase());
        assert.equal(id.name, PEOPLE.holder.name);
        assert.equal(id.cpf, PEOPLE.holder.cpf);
        assert.equal(id.birthdate, PEOPLE.holder.birthdate);
        assert.equal(id.nis, '12074493831');
        assert.equal(id.rg, '123456789');
        assert.equal(id.rgIssuer, 'SESP PR');
        assert.equal(id.voterId, null, 'zeros mean no voter id');
        assert.equal(id.cnpj, null);
        assert.equal(id.email, 'titular@teste.cidadela.invalid');
      });
    }
  }

  test('the level comes from certificatePolicies, never from the subject text', () => {
    // Every test certificate's subject says "RFB e-CPF A3"; the A1 ones carry an A1 policy.
    const reading = read('ecpf-a1-octet');
    assert.match(pki.certs['ecpf-a1-octet'].certificate.subject, /e-CPF A3/);
    assert.ok(reading.ok);
    assert.equal(reading.identity.level, 'A1');
    assert.equal(reading.identity.policy, '2.16.76.1.2.1.51');
  });

  test('e-CNPJ with an alphanumeric CNPJ: the company, and the responsible person with their CPF', () => {
    const reading = read('ecnpj-a3-alphanumeric');
    assert.ok(reading.ok, JSON.stringify(reading));
    assert.deepEqual(
      {
        kind: reading.identity.kind,
        level: reading.identity.level,
        cnpj: reading.identity.cnpj,
        companyName: reading.identity.companyName,
        name: reading.identity.name,
        cpf: reading.identity.cpf,
        birthdate: reading.identity.birthdate,
      },
      {
        kind: 'e-CNPJ',
        level: 'A3',
        cnpj: '12ABC34501DE35',
        companyName: PEOPLE.company.name,
        name: PEOPLE.responsible.name,
        cpf: PEOPLE.responsible.cpf,
        birthdate: PEOPLE.responsible.birthdate,
      },
    );
  });

  test('e-CNPJ with a numeric CNPJ and a "CNPJ:" subject serialNumber that agrees', () => {
    const reading = read('ecnpj-a1-numeric');
    assert.ok(reading.ok, JSON.stringify(reading));
    assert.equal(reading.identity.cnpj, PEOPLE.company.numericCnpj);
    assert.equal(reading.identity.level, 'A1');
  });

  test('a subject serialNumber that agrees with the otherName CPF is accepted', () => {
    assert.match(pki.certs['ecpf-a3-utf8'].certificate.subject, new RegExp(PEOPLE.holder.cpf));
    assert.ok(read('ecpf-a3-utf8').ok);
  });

  test('the holder field at its shortest (45: no RG issuer) and longest (55)', () => {
    const short = read('other-name-45');
    assert.ok(short.ok);
    assert.deepEqual(
      [short.identity.cpf, short.identity.nis, short.identity.rg, short.identity.rgIssuer],
      [PEOPLE.holder.cpf, null, null, null],
    );
    const long = read('other-name-55');
    assert.ok(long.ok);
    assert.deepEqual(
      [long.identity.nis, long.identity.rg, long.identity.rgIssuer],
      ['12074493831', '12345678X', 'SSP/PR  PR'],
    );
  });

  test('each identity refusal has its own reason, and keeps what it could read', () => {
    const cases: [keyof TestPki['certs'], string][] = [
      ['other-name-44', 'cert.other_name_invalid'],
      ['bad-cpf', 'cert.cpf_invalid'],
      ['bad-cnpj', 'cert.cnpj_invalid'],
      ['cn-mismatch', 'cert.cpf_mismatch'],
      ['serial-number-mismatch', 'cert.cpf_mismatch'],
      ['ecnpj-cn-mismatch', 'cert.cnpj_mismatch'],
      ['no-icp-policy', 'cert.level_unknown'],
      ['not-icp', 'cert.not_icp_brasil'],
    ];
    for (const [name, reason] of cases) {
      const reading = read(name);
      assert.ok(!reading.ok, `${name} was accepted`);
      assert.equal(reading.reason, reason, name);
    }
    const mismatch = read('cn-mismatch');
    assert.ok(!mismatch.ok);
    assert.equal(mismatch.read.cpf, PEOPLE.holder.cpf, 'the otherName CPF is reported, not the CN one');
    const bad = read('bad-cpf');
    assert.ok(!bad.ok);
    assert.equal(bad.read.cpf, `${PEOPLE.holder.cpf.slice(0, 9)}00`);
  });

  test('the real expired e-CPF A1 from AC DIGITALSIGN RFB', { skip: realCertificateSkip }, () => {
    const certificate = decodeCertificate(readFileSync(REAL_EXPIRED, 'utf8'));
    assert.ok(certificate);
    const reading = readIcpIdentity(certificate);
    assert.ok(reading.ok, JSON.stringify(reading));
    assert.deepEqual(reading.identity, {
      kind: 'e-CPF',
      level: 'A1',
      policy: '2.16.76.1.2.1.44',
      name: 'ADEMIR ALVES HENRIQUE',
      cpf: '80767940130',
      birthdate: '1978-12-10',
      nis: null,
      rg: null,
      rgIssuer: null,
      voterId: null,
      cei: null,
      cnpj: null,
      companyName: null,
      email: 'ademir@sabedoriacontabil.com.br',
    });
  });
});
