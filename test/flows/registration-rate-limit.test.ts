import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RATE_LIMITS } from '../../src/http/rate-limit.ts';
import { addService, authorizationRequest, newCitizen, UserAgent } from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

let app: TestApp;
before(async () => {
  app = await startTestApp();
});
after(async () => {
  await app?.stop();
});

test('registration attempts from one address are limited, with the time to wait, and nothing is created', async () => {
  const svc = await addService(app);
  const ua = new UserAgent({ 'accept-language': 'es' });
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
