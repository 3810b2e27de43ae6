import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createI18n, type Locale } from '../../src/platform/i18n.ts';
import { createTestPki, PEOPLE, type TestCertificate, type TestPki } from '../fixtures/test-pki.ts';
import { launchChromium, runAxe } from '../helpers/browser.ts';
import { type CertificateApp, startCertificateApp } from '../helpers/certificates.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, authorizationRequest, type TestService } from '../helpers/journeys.ts';

/*
 * Certificate sign-in in a real browser (Debian's Chromium through playwright-core), in each
 * language, axe-core on every page shown. The browser presents the test e-CPF in the TLS handshake
 * of the certificate listener: playwright's `clientCertificates` answers the server's certificate
 * request with it (no NSS database or Chromium policy needed).
 */

const i18n = createI18n();
let pki: TestPki;
let app: CertificateApp;
let browser: Browser;
let callback: Server;
let callbackUrl: string;
const contexts: BrowserContext[] = [];

before(async () => {
  pki = await createTestPki();
  app = await startCertificateApp(pki);
  await seedCitizen(app.db.db, { cpf: PEOPLE.holder.cpf, name: 'Maria da Silva Teste', birthdate: PEOPLE.holder.birthdate });
  browser = await launchChromium();
  // The services' callback: a real listener (the browser reaches it through playwright's proxy).
  callback = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('callback'));
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  callbackUrl = `http://127.0.0.1:${(callback.address() as { port: number }).port}`;
});
after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await app?.stop();
  await new Promise((resolve) => callback?.close(resolve));
  pki?.remove();
});

async function open(locale: Locale, certificate: TestCertificate) {
  const context = await browser.newContext({
    locale,
    viewport: { width: 1280, height: 900 },
    // The listener's server certificate is the test's own; the client certificate is the citizen's.
    ignoreHTTPSErrors: true,
    clientCertificates: [{ origin: app.certificateUrl, cert: Buffer.from(certificate.pem), key: Buffer.from(certificate.keyPem) }],
  });
  contexts.push(context);
  context.setDefaultTimeout(15_000);
  const problems: string[] = [];
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`${r.status()} from ${r.url()}`);
  });
  return { page, problems };
}

async function axeClean(page: Page, label: string) {
  const result = await runAxe(page);
  assert.ok(result.rules > 30, `axe-core ran only ${result.rules} rules on ${label}`);
  assert.deepEqual(result.violations, [], `${label} (${page.url()})`);
}

describe('certificate sign-in in a real browser', { timeout: 240_000 }, () => {
  for (const locale of ['pt-BR', 'en', 'es'] as const) {
    const t = i18n.translator(locale);
    test(`${locale}: the e-CPF signs in through the certificate listener`, async () => {
      // Its own service, so each language sees the consent screen.
      const svc = await addService(app, { redirectUris: [`${callbackUrl}/cb/${locale}`] });
      const { page, problems } = await open(locale, pki.certs['ecpf-a3-octet']);
      const auth = await authorizationRequest(svc);
      await page.goto(auth.url.href);
      await page.getByRole('heading', { level: 1, name: t('login.title') }).waitFor();
      await axeClean(page, `${locale} login`);
      await page.getByRole('link', { name: t('login.certificate') }).click();
      await page.getByRole('heading', { level: 1, name: t('certificate.title') }).waitFor();
      await axeClean(page, `${locale} certificate page`);
      await page.getByRole('button', { name: t('certificate.continue') }).click();
      // Back on the main address: the consent screen of the service.
      await page.locator('button[name="decision"][value="accept"]').waitFor();
      assert.equal(new URL(page.url()).origin, app.url);
      await axeClean(page, `${locale} consent after the certificate`);
      await Promise.all([page.waitForURL(`${svc.redirectUri}**`), page.locator('button[name="decision"][value="accept"]').click()]);
      assert.match(page.url(), /[?&]code=/);
      assert.deepEqual(problems, []);
    });
  }

  test('a refused certificate: the listener says why, in the language of the login, axe-clean', async () => {
    const t = i18n.translator('es');
    const svc = await addService(app, { redirectUris: [`${callbackUrl}/cb/refused`] });
    const { page, problems } = await open('es', pki.certs.revoked);
    await page.goto((await authorizationRequest(svc)).url.href);
    await page.getByRole('link', { name: t('login.certificate') }).click();
    await page.getByRole('button', { name: t('certificate.continue') }).click();
    await page.getByText(t('cert.revoked')).waitFor();
    assert.equal(new URL(page.url()).origin, app.certificateUrl);
    await axeClean(page, 'es refusal');
    assert.deepEqual(problems, []);
  });
});
