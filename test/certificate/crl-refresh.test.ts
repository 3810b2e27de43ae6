import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCertificateRuntime } from '../../src/methods/certificate/certificate-runtime.ts';
import {
  createCrlRefresher,
  createCrlStore,
  createHttpCrlFetcher,
} from '../../src/methods/certificate/crl-store.ts';
import { loadTrustDirectory, type TrustStore } from '../../src/methods/certificate/trust-store.ts';
import { createCertificateValidator } from '../../src/methods/certificate/validator.ts';
import { createTestPki, type TestPki } from '../fixtures/test-pki.ts';

const HOUR = 3600 * 1000;

/**
 * CRLs from distribution points, fetched over real HTTP from a server the test runs, in the
 * background: a sign-in never waits for one, and what the refresher brought in is what it sees.
 */
describe('refreshing CRLs from distribution points and the CRL directory', () => {
  let server: Server;
  let base: string;
  let pki: TestPki;
  let trust: TrustStore;
  /** What the distribution point server answers, by path; a number is an HTTP error status. */
  const served = new Map<string, Uint8Array | number>();
  const requests: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const body = served.get(req.url ?? '');
      if (body === undefined || typeof body === 'number') {
        res.writeHead(typeof body === 'number' ? body : 404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pki = await createTestPki({ crlBaseUrl: base });
    trust = await loadTrustDirectory(pki.trustDir);
  });

  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    pki?.remove();
  });

  const der = (crl: { rawData: ArrayBuffer }) => new Uint8Array(crl.rawData);

  test('a sign-in fetches nothing; the next refresh pass fetches what it named; a later revocation is picked up', async () => {
    served.clear();
    requests.length = 0;
    served.set('/raiz.crl', der(await pki.makeCrl(pki.root)));
    served.set('/ac-rfb.crl', der(await pki.makeCrl(pki.intermediate)));
    let clock = pki.now;
    const now = () => clock;
    const crls = createCrlStore({ trust, now, graceSeconds: 0 });
    const validator = createCertificateValidator({ trust, crls, now });
    const refresher = createCrlRefresher({
      store: crls,
      fetcher: createHttpCrlFetcher(),
      intervalSeconds: 3600,
      now,
    });
    const leaf = pki.certs['ecpf-a3-octet'].certificate;

    assert.deepEqual(await validator.validate(leaf), { ok: false, reason: 'cert.crl_stale' });
    assert.equal(requests.length, 0, 'validation made no request');

    const reports = await refresher.refresh();
    assert.ok(requests.includes('/ac-rfb.crl'), 'the leaf named its issuer CRL; the pass fetched it');
    assert.ok(requests.includes('/raiz.crl'), "the intermediates' own distribution point");
    assert.ok(
      reports
        .filter((r) => r.source.endsWith('/ac-rfb.crl') || r.source.endsWith('/raiz.crl'))
        .every((r) => r.ok),
      JSON.stringify(reports),
    );
    const accepted = await validator.validate(leaf);
    assert.ok(accepted.ok && accepted.crl === 'fresh', JSON.stringify(accepted));

    // Within the interval, the lists are fresh: nothing is fetched again.
    const before = requests.length;
    await refresher.refresh();
    assert.equal(requests.length, before);

    // The CA revokes the certificate; after the interval the next pass brings the list in.
    clock = new Date(pki.now.getTime() + 2 * HOUR);
    served.set(
      '/ac-rfb.crl',
      der(await pki.makeCrl(pki.intermediate, { thisUpdate: clock, revoked: [leaf] })),
    );
    await refresher.refresh();
    assert.deepEqual(await validator.validate(leaf), { ok: false, reason: 'cert.revoked' });

    // The distribution point fails: the list already held stays in use.
    clock = new Date(pki.now.getTime() + 4 * HOUR);
    served.set('/ac-rfb.crl', 500);
    const failed = await refresher.refresh();
    assert.ok(
      failed.some((r) => r.source.endsWith('/ac-rfb.crl') && !r.ok && /HTTP 500/.test(r.error ?? '')),
    );
    assert.deepEqual(await validator.validate(leaf), { ok: false, reason: 'cert.revoked' });
  });

  test('a mirror of a list already refreshed in the pass is not fetched again', async () => {
    served.clear();
    requests.length = 0;
    const intermediateCrl = der(await pki.makeCrl(pki.intermediate));
    served.set('/ac-rfb.crl', intermediateCrl);
    served.set('/espelho/ac-rfb.crl', intermediateCrl);
    let clock = pki.now;
    const crls = createCrlStore({ trust, now: () => clock, graceSeconds: 0 });
    crls.noteDistributionPoints([`${base}/ac-rfb.crl`, `${base}/espelho/ac-rfb.crl`]);
    const refresher = createCrlRefresher({
      store: crls,
      fetcher: createHttpCrlFetcher(),
      intervalSeconds: 60,
      now: () => clock,
    });
    await refresher.refresh();
    assert.equal(
      requests.filter((r) => r.endsWith('ac-rfb.crl')).length,
      2,
      'the first pass learns which issuer each address serves',
    );
    clock = new Date(pki.now.getTime() + 2 * 60_000);
    requests.length = 0;
    await refresher.refresh();
    assert.deepEqual(
      requests.filter((r) => r.endsWith('ac-rfb.crl')),
      ['/ac-rfb.crl'],
    );
  });

  test('the fetcher refuses a list larger than its cap, and a non-HTTP address', async () => {
    served.set('/grande.crl', new Uint8Array(4096));
    await assert.rejects(
      createHttpCrlFetcher({ maxBytes: 1000 })(`${base}/grande.crl`),
      /larger than 1000 bytes/,
    );
    await assert.rejects(createHttpCrlFetcher()('file:///etc/passwd'), /only http and https/);
  });

  test('start() runs a pass at once; the CRL directory is re-read when a file changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cidadela-crl-'));
    try {
      copyFileSync(join(pki.crlDir, 'raiz.crl'), join(dir, 'raiz.crl'));
      const crls = createCrlStore({ trust, now: () => pki.now, graceSeconds: 0 });
      const refresher = createCrlRefresher({
        store: crls,
        fetcher: null,
        crlDir: dir,
        intervalSeconds: 3600,
        now: () => pki.now,
      });
      refresher.start();
      const first = await refresher.refresh();
      refresher.stop();
      assert.deepEqual(
        first.map((r) => [r.source.endsWith('raiz.crl'), r.ok]),
        [[true, true]],
      );
      assert.equal(crls.summary(trust.roots[0]!.fingerprint)?.revokedCount, 1);
      assert.deepEqual(await refresher.refresh(), [], 'an unchanged file is not read again');
      writeFileSync(join(dir, 'ac-rfb.crl'), der(await pki.makeCrl(pki.intermediate)));
      writeFileSync(join(dir, 'lixo.crl'), 'not a CRL');
      const second = await refresher.refresh();
      assert.deepEqual(
        second.map((r) => [r.source.split('/').pop(), r.ok]),
        [
          ['ac-rfb.crl', true],
          ['lixo.crl', false],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the runtime the server builds: refuses until start() has brought the CRLs in, then accepts', async () => {
    const warnings: string[] = [];
    const log = { warn: (_: object, message: string) => warnings.push(message), info: () => {} };
    writeFileSync(join(pki.trustDir, 'LEIA-ME.txt'), 'Certificados da ICP-Brasil');
    try {
      const runtime = await createCertificateRuntime({
        trustDir: pki.trustDir,
        crlDir: pki.crlDir,
        graceSeconds: 0,
        refreshSeconds: 3600,
        fetcher: null,
        now: () => pki.now,
        log,
      });
      assert.ok(warnings.includes('skipped in the certificate trust directory'), warnings.join());
      const pem = pki.certs['ecnpj-a3-alphanumeric'].pem;
      assert.equal((await runtime.check(pem)).reason, 'cert.crl_stale');
      await runtime.start();
      runtime.stop();
      const decision = await runtime.check(pem);
      assert.equal(decision.accepted, true, decision.reason ?? '');
      assert.equal(decision.identity?.cnpj, '12ABC34501DE35');
    } finally {
      rmSync(join(pki.trustDir, 'LEIA-ME.txt'));
    }
  });
});
