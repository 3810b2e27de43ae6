import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { addService, answerConsent, authorizationRequest, newCitizen, registerThroughService, type TestService, UserAgent } from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import type { Page } from '../helpers/user-agent.ts';

// Stored XSS: every free-text value a citizen, a service or an operator stores comes back on some
// page. Each is planted with a payload, and every page that shows it must show it as text.

const PAYLOAD = `<script>alert(1)</script><img src=x onerror=alert(2)>"'`;
/**
 * A payload is live when any of it reaches the page unescaped: a real tag, or its closing quotes
 * (which would break out of an attribute value).
 */
const LIVE = [/<script>alert\(1\)/i, /<img src=x/i, /alert\(2\)>"'/, /<div onmouseover/i];

let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
let svc: TestService;

before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
  svc = await addService(app, {
    name: `Serviço ${PAYLOAD}`,
    description: `Descrição ${PAYLOAD}`,
    termsMarkdown: `# Termos ${PAYLOAD}\n\n<div onmouseover="alert(3)">${PAYLOAD}</div>\n\n[link](javascript:alert(4))`,
    fields: [
      { key: 'name', required: true, purpose: `para ${PAYLOAD}` },
      { key: 'social_name', required: false, purpose: `nome ${PAYLOAD}` },
      { key: 'address', required: false, purpose: `endereço ${PAYLOAD}` },
    ],
  });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

function assertInert(page: Page, where: string) {
  for (const live of LIVE) assert.doesNotMatch(page.html, live, `${where}: a payload is live`);
  assert.doesNotMatch(page.html, /href="javascript:/i, `${where}: a javascript: link`);
}

test('service texts, terms and purposes are shown as text on the login, registration and consent pages', async () => {
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  assertInert(login, 'login');
  assert.match(login.html, /&lt;script&gt;alert\(1\)/, 'the service name is there, escaped');
  const citizen = newCitizen({ social_name: `Jo ${PAYLOAD}`.slice(0, 150) });
  const { page } = await registerThroughService(ua, svc, auth, smtp, citizen);
  assertInert(page, 'consent');
  assert.match(page.html, /name="decision"/);

  const callback = await answerConsent(ua, page, svc);
  assert.ok(callback.url.startsWith(svc.redirectUri));
  for (const path of ['/conta', '/conta/dados', '/conta/servicos', '/conta/privacidade/historico', '/conta/privacidade/meus-dados']) {
    const shown = await ua.get(`${app.url}${path}`);
    assert.equal(shown.status, 200, path);
    assertInert(shown, path);
  }
  // The export carries the values as they are, as JSON a browser never renders as a page.
  const exported = await ua.get(`${app.url}/conta/consentimentos.json`);
  assert.match(exported.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(exported.headers.get('x-content-type-options'), 'nosniff');
  assert.match(exported.headers.get('content-disposition') ?? '', /^attachment/);
});

test('what a citizen types in free-text fields comes back as text on the account pages', async () => {
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const { page } = await registerThroughService(ua, svc, auth, smtp);
  await answerConsent(ua, page, svc);
  const form = await ua.get(`${app.url}/conta/dados`);
  const { formAction, formFields } = await import('../helpers/user-agent.ts');
  const saved = await ua.post(formAction(form, '/conta/dados'), {
    ...formFields(form, '/conta/dados'),
    f_social_name: `Apelido ${PAYLOAD}`.slice(0, 150),
    f_address_postal_code: '80010-000',
    f_address_street_address: `Rua ${PAYLOAD}`.slice(0, 150),
    f_address_number: '1',
    f_address_locality: `Curitiba ${PAYLOAD}`.slice(0, 80),
    f_address_region: 'PR',
    f_address_country: 'BR',
  });
  assertInert(saved, 'after saving');
  for (const path of ['/conta', '/conta/dados', '/conta/servicos', '/conta/privacidade/historico', '/conta/privacidade/meus-dados']) assertInert(await ua.get(`${app.url}${path}`), path);
});
