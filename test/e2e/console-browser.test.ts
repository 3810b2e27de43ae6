import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createI18n } from '../../src/platform/i18n.ts';
import { browserProfiles, checkPage, launchChromium, type Watched } from '../helpers/browser.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, answerConsent, authorizationRequest, exchange, loginThroughService, type TestService } from '../helpers/journeys.ts';
import { seedOperator } from '../helpers/operators.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { UserAgent } from '../helpers/user-agent.ts';

/*
 * The console in Chromium, per role: an attendant finds a citizen and records a document shown at
 * the counter, after which the citizen's next ID token (openid-client) says prata; an auditor reads
 * both in the log. axe-core runs on every console page shown, error pages included.
 */
const t = createI18n().translator('pt-BR');

describe('the operators\' console in a real browser', () => {
  let app: TestApp;
  let browser: Browser;
  let profiles: ReturnType<typeof browserProfiles>;
  let svc: TestService;

  before(async () => {
    app = await startTestApp({ DEMO: 'off' });
    svc = await addService(app, { fields: [{ key: 'name', required: true, purpose: 'identificar' }] });
    browser = await launchChromium();
    profiles = browserProfiles(browser, app.url);
  });
  after(async () => {
    await profiles?.close();
    await browser?.close().catch(() => {});
    await app?.stop();
  });

  async function signIn(w: Watched, who: { cpf: string; password: string }) {
    const { page } = w;
    await page.goto(`${app.url}/admin`);
    await page.locator('#identifier').fill(who.cpf);
    await page.locator('#password').fill(who.password);
    await page.getByRole('button', { name: t('login.submit'), exact: true }).click();
    await page.waitForURL(`${app.url}/admin`);
    await heading(page, t('console.home.title'));
    await checkPage(w, 'console home');
  }

  const heading = async (page: Page, text: string) => assert.equal((await page.locator('main h1').textContent())?.trim(), text);

  async function citizenClaims(citizen: { cpf: string; password: string }) {
    const ua = new UserAgent();
    const auth = await authorizationRequest(svc);
    let page = await loginThroughService(ua, svc, auth, citizen.cpf, citizen.password);
    if (page.html.includes('name="decision"')) page = await answerConsent(ua, page, svc);
    return (await exchange(svc, auth, page.url)).claims()!;
  }

  test('attendant verifies a document; the citizen\'s next ID token says prata; the auditor reads it in the log', async () => {
    const attendant = await seedOperator(app.db.db, ['attendant']);
    const auditor = await seedOperator(app.db.db, ['auditor']);
    const citizen = await seedCitizen(app.db.db);
    assert.equal((await citizenClaims(citizen)).acr, 'bronze');

    const w = await profiles.open({ locale: 'pt-BR' });
    const { page } = w;
    await signIn(w, attendant);
    await page.getByRole('link', { name: t('console.nav.support'), exact: true }).first().click();
    await heading(page, t('console.nav.support'));
    await checkPage(w, 'support desk');

    // A partial CPF: the error, on an accessible page.
    await page.getByLabel(t('console.search.value'), { exact: true }).fill(citizen.cpf.slice(0, 6));
    await page.getByLabel(t('console.reason.label'), { exact: true }).fill('Cidadão no balcão 2');
    await page.getByRole('button', { name: t('console.search.submit'), exact: true }).click();
    await page.getByText(t('console.search.cpf_exact')).first().waitFor();
    await checkPage(w, 'support desk with an error');

    await page.getByLabel(t('console.search.value'), { exact: true }).fill(citizen.cpf);
    await page.getByLabel(t('console.reason.label'), { exact: true }).fill('Cidadão no balcão 2');
    await page.getByRole('button', { name: t('console.search.submit'), exact: true }).click();
    await page.waitForURL(`${app.url}/admin/atendimento/contas/${citizen.id}`);
    await page.getByText(citizen.email).waitFor();
    await checkPage(w, 'account at the support desk');

    await page.getByLabel(t('console.in_person.document_type'), { exact: true }).selectOption('rg');
    await page.getByLabel(t('console.in_person.document_number'), { exact: true }).fill('12.345.678-9');
    await page.getByLabel(t('console.in_person.counter'), { exact: true }).fill('Rua da Cidadania Boqueirão');
    await page.getByRole('button', { name: t('console.in_person.submit'), exact: true }).click();
    await page.getByText(t('console.in_person.done')).waitFor();
    await checkPage(w, 'account after the verification');

    assert.equal((await citizenClaims(citizen)).acr, 'prata');

    const a = await profiles.open({ locale: 'pt-BR' });
    await signIn(a, auditor);
    await a.page.getByRole('link', { name: t('console.nav.audit'), exact: true }).first().click();
    await heading(a.page, t('console.nav.audit'));
    await checkPage(a, 'audit log');
    await a.page.getByLabel(t('console.audit.conta'), { exact: true }).fill(citizen.id);
    await a.page.getByRole('button', { name: t('console.audit.filter'), exact: true }).click();
    const rows = a.page.locator('tbody tr');
    await rows.first().waitFor();
    const texts = await rows.allTextContents();
    assert.equal(texts.length, 2, texts.join('\n'));
    assert.match(texts[0]!, new RegExp(t('console.kind.support_in_person_verified')));
    assert.match(texts[1]!, /Cidadão no balcão 2/);
    assert.ok(texts.every((r) => r.includes(`operator:${attendant.id}`)));
    await checkPage(a, 'audit log filtered');

    // The attendant's role does not open the log; the page saying so is accessible too.
    await page.goto(`${app.url}/admin/auditoria`);
    await page.getByText(t('console.refused.wrong_role')).waitFor();
    await checkPage(w, 'refusal page');

    for (const x of [w, a]) assert.deepEqual(x.problems, []);
  });

  test('admin registers a service with a contract and terms, sees the secret once and the consent preview in each language', async () => {
    const admin = await seedOperator(app.db.db, ['admin']);
    const w = await profiles.open({ locale: 'pt-BR' });
    const { page } = w;
    await signIn(w, admin);
    await page.getByRole('link', { name: t('console.nav.services'), exact: true }).first().click();
    await heading(page, t('console.nav.services'));
    await checkPage(w, 'services list');
    await page.getByRole('link', { name: t('console.services.new'), exact: true }).click();
    await heading(page, t('console.services.new'));
    await checkPage(w, 'new service form');
    await page.getByLabel(t('console.services.name'), { exact: true }).fill('Saúde na escola');
    await page.getByLabel(t('console.services.clientId'), { exact: true }).fill('saude-escola');
    await page.getByLabel(t('console.services.redirectUris'), { exact: true }).fill('https://saude.example/cb');
    await page.locator('#use_name').selectOption('required');
    await page.locator('[id="purpose_name_pt-BR"]').fill('identificar o estudante');
    await page.locator('#purpose_name_en').fill('to identify the student');
    await page.locator('#purpose_name_es').fill('para identificar al estudiante');
    await page.getByLabel(t('console.services.termsMarkdown'), { exact: true }).fill('# Termos do programa\n\nOs dados servem só ao programa.');
    await page.getByRole('button', { name: t('console.services.create'), exact: true }).click();
    await heading(page, t('console.services.secret_title'));
    assert.ok(((await page.locator('code.secret').textContent()) ?? '').length >= 32);
    await checkPage(w, 'secret shown once');
    await page.getByRole('link', { name: t('console.services.back'), exact: true }).click();
    await heading(page, 'Saúde na escola');
    await checkPage(w, 'service edit form');
    for (const [label, lang, purpose] of [
      ['console.language.pt-BR', 'pt-BR', 'identificar o estudante'],
      ['console.language.en', 'en', 'to identify the student'],
      ['console.language.es', 'es', 'para identificar al estudiante'],
    ] as const) {
      await page.goto(`${app.url}/admin/servicos/saude-escola`);
      await page.getByRole('link', { name: t(label), exact: true }).click();
      await page.waitForURL(`${app.url}/admin/servicos/saude-escola/previa?idioma=${lang}`);
      await page.locator(`.preview[lang="${lang}"]`).getByText(purpose, { exact: false }).first().waitFor();
      await page.locator('.preview').getByText('Termos do programa').first().waitFor();
      await checkPage(w, `consent preview (${lang})`);
    }
    assert.deepEqual(w.problems, []);
  });
});
