import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addService, authorizationRequest, type TestService, UserAgent } from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

/** No dead ends: every page where something stopped offers the way back. */
describe('the way back from pages where something stopped', () => {
  let app: TestApp;
  let svc: TestService;
  before(async () => {
    app = await startTestApp();
    svc = await addService(app, { redirectUris: ['https://matricula.example/oidc/cb'] });
  });
  after(async () => {
    await app?.stop();
  });

  const links = (html: string) =>
    [...html.matchAll(/<nav class="way-back"[\s\S]*?<\/nav>/g)].map((m) => m[0]).join('');

  test('an expired sign-in leads back to the service it came from, the account and the start', async () => {
    const ua = new UserAgent({ 'accept-language': 'pt-BR' });
    const login = await ua.get((await authorizationRequest(svc)).url.href, svc.redirectUri);
    assert.equal(login.status, 200);
    // The interaction is gone (expired, or a link from another day): no interaction to read.
    await app.db.db.deleteFrom('oidc_payloads').where('model', '=', 'Interaction').execute();
    const expired = await ua.get(login.url);
    assert.equal(expired.status, 400);
    const nav = links(expired.html);
    assert.match(expired.html, /Volte ao serviço Serviço de teste \d+ e entre de novo/);
    assert.match(nav, /<a href="https:\/\/matricula\.example\/">Voltar ao serviço Serviço de teste \d+<\/a>/);
    assert.match(nav, /<a href="\/conta">/);
    assert.match(nav, /<a href="\/">/);
  });

  test('an expired page with no service known still leads to the account and the start', async () => {
    const expired = await new UserAgent({ 'accept-language': 'en' }).get(
      `${app.url}/interaction/nao-existe-123`,
    );
    assert.equal(expired.status, 400);
    assert.doesNotMatch(links(expired.html), /Back to the service/);
    assert.match(links(expired.html), /<a href="\/conta">Go to my account<\/a>/);
  });

  test('not found, a refused form and a provider error all offer the way back', async () => {
    const ua = new UserAgent({ 'accept-language': 'es' });
    const notFound = await ua.get(`${app.url}/nao-existe`);
    assert.equal(notFound.status, 404);
    assert.match(links(notFound.html), /Ir a mi cuenta/);
    const provider = await ua.get(
      `${app.url}/oidc/auth?client_id=nao-existe&response_type=code&scope=openid`,
    );
    assert.equal(provider.status, 400);
    assert.match(links(provider.html), /Ir a la página de inicio/);
    const refused = await ua.post(`${app.url}/conta/dados`, { name: 'x' }, undefined, { csrf: false });
    assert.equal(refused.status, 403);
    assert.match(links(refused.html), /<a href="\/">/);
  });

  test("the demo's callback without its cookie explains and offers to start again", async () => {
    const res = await new UserAgent({ 'accept-language': 'pt-BR' }).get(
      `${app.url}/demo/demo-servico/callback?code=abc&state=xyz`,
    );
    assert.equal(res.status, 400);
    assert.match(res.html, /este serviço não encontrou o início da sua entrada/);
    assert.match(res.html, /<a class="button" href="\/demo\/demo-servico\/login">Entrar de novo<\/a>/);
  });
});
