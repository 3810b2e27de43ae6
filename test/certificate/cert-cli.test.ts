import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { certCommand } from '../../src/cli/cert-command.ts';
import { REAL_EXPIRED_ECPF, realCertificateSkip } from '../fixtures/real-certificate.ts';
import { createTestPki, PEOPLE, type TestPki } from '../fixtures/test-pki.ts';
import { childEnv, killChildren, runCli } from '../helpers/processes.ts';

const REAL_EXPIRED = REAL_EXPIRED_ECPF;

/** `cidadela cert ...` as an operator runs it: no database, just files. */
describe('cidadela cert', () => {
  let pki: TestPki;
  before(async () => {
    pki = await createTestPki();
  });
  after(async () => {
    await killChildren();
    pki?.remove();
  });

  async function run(...args: string[]) {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await certCommand(
      args,
      { log: (l) => stdout.push(l), error: (l) => stderr.push(l) },
      { now: () => pki.now },
    );
    return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
  }

  const inspect = (name: keyof TestPki['certs'], ...extra: string[]) =>
    run(
      'inspect',
      pki.certs[name].file,
      '--trust',
      pki.trustDir,
      '--crl-dir',
      pki.crlDir,
      '--json',
      ...extra,
    );

  test('inspect --json: an accepted e-CNPJ A3 with an alphanumeric CNPJ', async () => {
    const { code, stdout } = await inspect('ecnpj-a3-alphanumeric');
    assert.equal(code, 0);
    const out = JSON.parse(stdout);
    assert.deepEqual(
      { ...out, serial: typeof out.serial, notAfter: typeof out.notAfter },
      {
        accepted: true,
        reason: null,
        message: null,
        kind: 'e-CNPJ',
        level: 'A3',
        cpf: PEOPLE.responsible.cpf,
        birthdate: PEOPLE.responsible.birthdate,
        name: PEOPLE.responsible.name,
        cnpj: '12ABC34501DE35',
        companyName: PEOPLE.company.name,
        issuer: pki.intermediate.certificate.subject,
        serial: 'string',
        notAfter: 'string',
        crl: 'fresh',
      },
    );
    assert.equal(out.serial, pki.certs['ecnpj-a3-alphanumeric'].certificate.serialNumber);
  });

  test('inspect --json: an e-CPF A1 in DER, accepted', async () => {
    const { code, stdout } = await inspect('ecpf-a1-octet');
    assert.equal(code, 0);
    const out = JSON.parse(stdout);
    assert.deepEqual(
      [out.accepted, out.kind, out.level, out.cpf, out.birthdate, out.name, out.cnpj],
      [true, 'e-CPF', 'A1', PEOPLE.holder.cpf, PEOPLE.holder.birthdate, PEOPLE.holder.name, null],
    );
  });

  test('inspect --json: refusals carry the reason and the message in the chosen language', async () => {
    const revoked = await inspect('revoked', '--lang', 'es');
    assert.equal(revoked.code, 1);
    const out = JSON.parse(revoked.stdout);
    assert.equal(out.reason, 'cert.revoked');
    assert.match(out.message, /revocado/);
    assert.equal(out.cpf, PEOPLE.holder.cpf, 'what was read is shown even when refused');
    // Without the CRLs, nothing can be accepted: the lists are missing and the grace is 0.
    const noCrl = await run('inspect', pki.certs['ecpf-a3-utf8'].file, '--trust', pki.trustDir, '--json');
    assert.equal(JSON.parse(noCrl.stdout).reason, 'cert.crl_stale');
    // With --crl files for the issuer and for the root above it, it is accepted.
    const oneCrl = await run(
      'inspect',
      pki.certs['ecpf-a3-utf8'].file,
      '--trust',
      pki.trustDir,
      '--crl',
      `${pki.crlDir}/ac-rfb.crl`,
      '--crl',
      `${pki.crlDir}/raiz.crl`,
      '--json',
    );
    assert.equal(JSON.parse(oneCrl.stdout).accepted, true);
  });

  test('inspect: the real expired e-CPF A1 read and refused as expired', { skip: realCertificateSkip }, async () => {
    const { code, stdout } = await run(
      'inspect',
      REAL_EXPIRED,
      '--trust',
      pki.trustDir,
      '--json',
      '--lang',
      'en',
    );
    assert.equal(code, 1);
    const out = JSON.parse(stdout);
    assert.deepEqual(out, {
      accepted: false,
      reason: 'cert.expired',
      message:
        'This digital certificate has expired. Renew it with your certificate authority or sign in another way.',
      kind: 'e-CPF',
      level: 'A1',
      cpf: '80767940130',
      birthdate: '1978-12-10',
      name: 'ADEMIR ALVES HENRIQUE',
      cnpj: null,
      companyName: null,
      issuer: 'C=BR, O=ICP-Brasil, OU=Secretaria da Receita Federal do Brasil - RFB, CN=AC DIGITALSIGN RFB',
      serial: '0118ed2a5e7f9141d4',
      notAfter: '2016-06-29T14:05:45.000Z',
      crl: null,
    });
  });

  test('inspect in text: the numbers formatted for a person', async () => {
    const { code, stdout } = await run(
      'inspect',
      pki.certs['ecnpj-a3-alphanumeric'].file,
      '--trust',
      pki.trustDir,
      '--crl-dir',
      pki.crlDir,
    );
    assert.equal(code, 0);
    assert.match(stdout, /^accepted/);
    assert.match(stdout, /12\.ABC\.345\/01DE-35/);
    assert.match(stdout, /987\.654\.321-00/);
  });

  test('trust --json: roots and intermediates with each issuer CRL state and age', async () => {
    const { code, stdout } = await run('trust', '--trust', pki.trustDir, '--crl-dir', pki.crlDir, '--json');
    assert.equal(code, 0);
    const out = JSON.parse(stdout);
    assert.deepEqual(
      out.roots.map((r: { subject: string; crl: { state: string; revoked: number } }) => [
        r.subject,
        r.crl.state,
        r.crl.revoked,
      ]),
      [[pki.root.certificate.subject, 'fresh', 1]],
    );
    const states = Object.fromEntries(
      out.intermediates.map((i: { subject: string; crl: { state: string; ageSeconds: number } }) => [
        i.subject.replace(/.*CN=/, ''),
        [i.crl.state, i.crl.ageSeconds],
      ]),
    );
    assert.deepEqual(states, {
      'AC Teste Cidadela RFB': ['fresh', 3600],
      'AC Teste Cidadela Atrasada': ['stale', 10 * 86400],
      'AC Teste Cidadela Revogada': ['fresh', 3600],
      'AC Teste Cidadela Vencida': ['fresh', 3600],
    });
    assert.deepEqual(out.problems, []);
    const withoutCrls = JSON.parse((await run('trust', '--trust', pki.trustDir, '--json')).stdout);
    assert.equal(withoutCrls.roots[0].crl.state, 'missing');
  });

  test('wrong usage: exit 2 with a clear line, never a stack trace', async () => {
    assert.equal((await run()).code, 2);
    const missing = await run('inspect', '/nonexistent/cert.pem', '--json');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /\/nonexistent\/cert\.pem: ENOENT/);
    const noTrust = await run('trust');
    assert.equal(noTrust.code, 2);
    assert.match(noTrust.stderr, /--trust DIR is required/);
    assert.match((await run('inspect', pki.certs.expired.file, '--crl-grace', 'soon')).stderr, /--crl-grace/);
    assert.match((await run('inspect', pki.certs.expired.file, '--lang', 'fr')).stderr, /--lang/);
    const notACertificate = await run('inspect', `${pki.crlDir}/raiz.crl`, '--json');
    assert.equal(JSON.parse(notACertificate.stdout).reason, 'cert.unreadable');
  });

  test('as a child process: `cidadela cert inspect FILE --trust DIR --crl FILE --json`', async () => {
    const result = await runCli(
      [
        'cert',
        'inspect',
        pki.certs['ecpf-a3-printable'].file,
        '--trust',
        pki.trustDir,
        '--crl',
        `${pki.crlDir}/ac-rfb.crl`,
        '--crl',
        `${pki.crlDir}/raiz.crl`,
        '--json',
      ],
      // No DATABASE_URL, no SECRET_KEY: the command needs neither.
      childEnv({ SECRET_KEY: undefined }),
    );
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout);
    assert.deepEqual([out.accepted, out.kind, out.level, out.cpf], [true, 'e-CPF', 'A3', PEOPLE.holder.cpf]);
    const refused = await runCli(
      ['cert', 'inspect', pki.certs['self-signed'].file, '--trust', pki.trustDir, '--json'],
      childEnv({}),
    );
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stdout).reason, 'cert.self_signed');
  });
});
