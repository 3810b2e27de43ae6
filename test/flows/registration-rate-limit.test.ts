import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RATE_LIMITS } from '../../src/platform/rate-limit.ts';
import { addService, authorizationRequest, newCitizen, UserAgent } from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

let app: TestApp;
before(async () => {
  // Behind a proxy, each test speaks from its own client address.
  app = await startTestApp({ TRUST_PROXY: 'true' });
});
after(async () => {
  await app?.stop();
});

test('registration attempts from one address are limited, with the time to wait, and nothing is created', async () => {
  const svc = await addService(app);
  const ua = new UserAgent({ 'accept-language': 'es', 'x-forwarded-for': '10.9.0.1' });
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const registerUrl = new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href;
  let page = await ua.get(registerUrl);
  const action = formAction(page, '/register');
  const limit = RATE_LIMITS.registration.limit;
  for (let i = 0; i < limit; i++) {
    page = await ua.post(action, { ...newCitizen(), cpf: '111.111.111-11' });
    assert.equal(page.status, 422, `attempt ${i + 1} is judged on its content`);
  }
  const citizen = newCitizen();
  page = await ua.post(action, citizen);
  assert.equal(page.status, 429);
  assert.ok(Number(page.headers.get('retry-after')) > 0);
  assert.match(page.html, /Demasiados intentos de registro/);
  assert.match(page.html, new RegExp(`value="${citizen.name}"`), 'what was typed is kept');
  const created = await app.db.db.selectFrom('citizens').select('id').where('email', '=', citizen.email).executeTakeFirst();
  assert.equal(created, undefined);
});

test('an account whose e-mail is not confirmed gets at most a few codes a day, however often it signs in', async () => {
  const svc = await addService(app);
  const ua = new UserAgent({ 'x-forwarded-for': '10.9.0.2' });
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const registerUrl = new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href;
  const form = await ua.get(registerUrl);
  const citizen = newCitizen();
  const registered = await ua.post(formAction(form, '/register'), citizen, svc.redirectUri);
  assert.match(registered.url, /\/confirm-email$/);
  const limit = RATE_LIMITS.emailCodesPerCitizen.limit;
  let page = registered;
  for (let i = 0; i <= limit; i++) {
    const fresh = new UserAgent({ 'x-forwarded-for': `10.9.1.${i + 1}` });
    const a = await authorizationRequest(svc);
    const loginPage = await fresh.get(a.url.href, svc.redirectUri);
    page = await fresh.post(formAction(loginPage, '/login'), { identifier: citizen.cpf, password: citizen.password }, svc.redirectUri);
    if (i < limit) assert.match(page.url, /\/confirm-email$/, `login ${i + 1} sends a code`);
  }
  assert.equal(page.status, 429);
  assert.match(page.html, /muitos códigos/);
  const flows = await app.db.db
    .selectFrom('flows as f')
    .innerJoin('citizens as c', 'c.id', 'f.citizen_id')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('c.email', '=', citizen.email)
    .executeTakeFirstOrThrow();
  assert.equal(Number(flows.n), limit + 1, 'one at registration, then one per allowed login');
});
