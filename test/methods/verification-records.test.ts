import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createVerificationStore } from '../../src/methods/verifications.ts';
import type { SignInMethod } from '../../src/methods/method.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, answerConsent, authorizationRequest, exchange, type TestService, UserAgent } from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

// A method that runs on another listener (the certificate's TLS port) never sees the interaction
// cookie: it leaves its proof server-side, and the browser comes back to /complete. This stands in
// for such a method, recording what it proved the way any method does.
const elsewhere: SignInMethod = { id: 'password', factor: 'possession', amr: ['swk'], assurance: 'ouro', has: async () => true };

let app: TestApp;
let svc: TestService;
before(async () => {
  app = await startTestApp();
  svc = await addService(app, { fields: [{ key: 'name', required: true, purpose: 'para identificar você' }] });
});
after(() => app?.stop());

async function atLogin() {
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc, { acr_values: 'bronze prata ouro', max_age: '600' });
  const page = await ua.get(auth.url.href, svc.redirectUri);
  assert.equal(page.status, 200);
  const uid = new URL(page.url).pathname.split('/')[2]!;
  return { ua, auth, uid };
}

test('with nothing proven, coming back to complete signs nobody in', async () => {
  const { ua, uid } = await atLogin();
  const page = await ua.get(`${app.url}/interaction/${uid}/complete`, svc.redirectUri);
  assert.equal(page.status, 400);
  assert.doesNotMatch(page.url, /code=/);
});

test('a proof recorded elsewhere completes the interaction; services are told what it proved', async () => {
  const citizen = await seedCitizen(app.db.db);
  // The level reached is capped by the account's; a real certificate proof raises the account first.
  await app.db.db.updateTable('citizens').set({ trust_level: 'ouro' }).where('id', '=', citizen.id).execute();
  const { ua, auth, uid } = await atLogin();
  await createVerificationStore(app.db.db).record({ interactionUid: uid, citizenId: citizen.id, method: elsewhere });
  const consent = await ua.get(`${app.url}/interaction/${uid}/complete`, svc.redirectUri);
  const callback = await answerConsent(ua, consent, svc);
  const tokens = await exchange(svc, auth, callback.url);
  const claims = tokens.claims()!;
  assert.equal(claims.sub, citizen.id);
  assert.deepEqual(claims.amr, ['swk']);
  assert.equal(claims.acr, 'ouro');
  const left = await app.db.db.selectFrom('verifications').select('id').where('interaction_uid', '=', uid).execute();
  assert.equal(left.length, 0, 'the records are consumed by the sign-in');
});

test('proofs about two different citizens in one interaction sign in neither', async () => {
  const a = await seedCitizen(app.db.db);
  const b = await seedCitizen(app.db.db);
  const { ua, uid } = await atLogin();
  const store = createVerificationStore(app.db.db);
  await store.record({ interactionUid: uid, citizenId: a.id, method: elsewhere });
  await store.record({ interactionUid: uid, citizenId: b.id, method: elsewhere });
  const page = await ua.get(`${app.url}/interaction/${uid}/complete`, svc.redirectUri);
  assert.equal(page.status, 400);
});

test('a password sign-in is pwd at bronze, from its own verification record', async () => {
  const citizen = await seedCitizen(app.db.db);
  const { ua, auth } = await atLogin();
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const { formAction } = await import('../helpers/user-agent.ts');
  const consent = await ua.post(formAction(login, '/login'), { identifier: citizen.cpf, password: citizen.password }, svc.redirectUri);
  const callback = await answerConsent(ua, consent, svc);
  const claims = (await exchange(svc, auth, callback.url)).claims()!;
  assert.deepEqual(claims.amr, ['pwd']);
  assert.equal(claims.acr, 'bronze');
  assert.ok(typeof claims.auth_time === 'number' && Math.abs(claims.auth_time - Date.now() / 1000) < 3600);
});
