import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { contrastRatio } from '../../src/platform/contrast.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import { startTestApp, TEST_ADMIN_TOKEN, TEST_SECRET, type TestApp } from '../helpers/test-app.ts';

const base = { NODE_ENV: 'test', SECRET_KEY: TEST_SECRET, PUBLIC_URL: 'http://127.0.0.1:3000' };

describe("the city's identity", () => {
  test('contrast follows WCAG: black on white 21, white on white 1, gov.br blue passes', () => {
    assert.equal(Math.round(contrastRatio('#000', '#fff')), 21);
    assert.equal(contrastRatio('#ffffff', '#ffffff'), 1);
    assert.ok(contrastRatio('#1351b4', '#ffffff') >= 4.5);
  });

  test('colours a person could not read are refused at start, saying why', () => {
    assert.throws(
      () => loadConfig({ ...base, BRAND_PRIMARY: '#ffcd07' }),
      /BRAND_PRIMARY: #ffcd07 against white has a contrast of 1\.\d\d:1, below the 4\.5:1/,
    );
    assert.throws(
      () => loadConfig({ ...base, BRAND_PRIMARY_DARK: 'azul' }),
      /BRAND_PRIMARY_DARK: "azul" is not a colour/,
    );
    assert.throws(
      () => loadConfig({ ...base, BRAND_FOOTER_LINKS: 'Prefeitura|javascript:alert(1)' }),
      /BRAND_FOOTER_LINKS/,
    );
    assert.throws(() => loadConfig({ ...base, BRAND_LOGO: 'logo.svg' }), /BRAND_LOGO needs BRAND_DIR/);
    assert.equal(loadConfig({ ...base, BRAND_PRIMARY: '#0B5394' }).brand.primary, '#0b5394');
  });

  describe('a deployment with its own name, logo, colours and links', () => {
    let app: TestApp;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cidadela-marca-'));
      writeFileSync(
        join(dir, 'brasao.svg'),
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>',
      );
      app = await startTestApp({
        BRAND_NAME: 'Conta Curitiba',
        BRAND_DIR: dir,
        BRAND_LOGO: 'brasao.svg',
        BRAND_PRIMARY: '#00592e',
        BRAND_PRIMARY_DARK: '#002b16',
        BRAND_FOOTER_LINKS:
          'Prefeitura|https://www.curitiba.pr.gov.br/; Privacidade|https://www.curitiba.pr.gov.br/privacidade',
      });
      const store = createServiceStore(app.db.db, { provider: createProviderState() });
      await store.add({
        name: 'Matrícula escolar',
        description: 'Inscrição na rede municipal',
        redirectUris: ['https://matricula.example/cb'],
        public: true,
        homeUrl: 'https://matricula.example/',
      });
      await store.add({ name: 'Sistema interno', redirectUris: ['https://interno.example/cb'] });
    });
    after(async () => {
      await app?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('the home page: the name as title, what the account is, the public services with their links', async () => {
      const res = await fetch(`${app.url}/`, { headers: { 'accept-language': 'pt-BR' } });
      const body = await res.text();
      assert.match(body, /<title>Conta Curitiba<\/title>/);
      assert.doesNotMatch(body, /Cidadela · Cidadela|Conta Curitiba · Conta Curitiba/);
      assert.match(body, /Conta Curitiba é a sua conta única/);
      assert.match(body, /<a href="https:\/\/matricula\.example\/">Matrícula escolar<\/a>/);
      assert.match(body, /Inscrição na rede municipal/);
      assert.doesNotMatch(body, /Sistema interno/, 'a service not marked public is not listed');
      assert.match(body, /<img src="\/marca\/brasao\.svg" alt="">/);
      assert.match(body, /<a href="https:\/\/www\.curitiba\.pr\.gov\.br\/privacidade">Privacidade<\/a>/);
      assert.match(body, /<link rel="stylesheet" href="\/marca\.css">/);
    });

    test('every page carries the name; the colours come as a stylesheet; the logo and favicon are served', async () => {
      const notFound = await (await fetch(`${app.url}/nao-existe`)).text();
      assert.match(notFound, /<title>[^<]+ · Conta Curitiba<\/title>/);
      const css = await fetch(`${app.url}/marca.css`);
      assert.match(css.headers.get('content-type') ?? '', /text\/css/);
      assert.match(await css.text(), /--brand: #00592e; --brand-dark: #002b16;/);
      const logo = await fetch(`${app.url}/marca/brasao.svg`);
      assert.equal(logo.status, 200);
      assert.equal(logo.headers.get('content-type'), 'image/svg+xml');
      const favicon = await fetch(`${app.url}/favicon.ico`);
      assert.equal(favicon.status, 200);
      assert.match(favicon.headers.get('content-type') ?? '', /image\//);
      for (const probe of ['..%2Fetc%2Fpasswd', 'nao-ha.svg', 'brasao.exe']) {
        assert.equal((await fetch(`${app.url}/marca/${probe}`)).status, 404, probe);
      }
    });

    test('the operator marks a service public through the admin API', async () => {
      const headers = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
      const created = await fetch(`${app.url}/admin/api/services`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          name: 'IPTU',
          redirectUris: ['https://iptu.example/cb'],
          public: true,
          homeUrl: 'https://iptu.example/',
        }),
      });
      assert.equal(created.status, 201, await created.clone().text());
      const { service } = (await created.json()) as {
        service: { clientId: string; public: boolean; homeUrl: string };
      };
      assert.equal(service.public, true);
      assert.equal(service.homeUrl, 'https://iptu.example/');
      const bad = await fetch(`${app.url}/admin/api/services/${service.clientId}`, {
        method: 'PATCH',
        headers,
        body: JSON.stringify({ homeUrl: 'javascript:alert(1)' }),
      });
      assert.equal(bad.status, 400);
      assert.match(await (await fetch(`${app.url}/`)).text(), /IPTU/);
    });
  });
});
