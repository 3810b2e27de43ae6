import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RATE_LIMITS } from '../../src/platform/rate-limit.ts';
import { addService, answerConsent, authorizationRequest, registerThroughService, UserAgent } from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

// Review finding: POST /conta/email started a new code with fresh tries every time, with no
// limit: a signed-in attacker could guess the code of an address they do not own (and mail-bomb
// it). Written as the attack.

let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

async function signedInCitizen() {
  const svc = await addService(app);
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const { page, citizen } = await registerThroughService(ua, svc, auth, smtp);
  await answerConsent(ua, page, svc);
  return { ua, citizen };
}

test('an account can start only a few e-mail changes a day; each refused one queues no mail', async () => {
  const { ua, citizen } = await signedInCitizen();
  const limit = RATE_LIMITS.emailChangesPerCitizen.limit;
  let form = await ua.get(`${app.url}/conta/email`);
  let refusedAt: number | undefined;
  for (let i = 0; i <= limit; i++) {
    const target = `alvo${i}-${Date.now()}@example.org`;
    const answer = await ua.post(formAction(form, '/conta/email'), { email: target });
    if (answer.status === 429) {
      refusedAt = i;
      assert.match(answer.html, /muitos códigos/);
      const queued = await app.db.db.selectFrom('messages').select('id').where('recipient', '=', target).execute();
      assert.equal(queued.length, 0, 'nothing sent to the refused address');
      break;
    }
    assert.match(answer.url, /\/conta\/email\/confirmar$/);
    form = await ua.get(`${app.url}/conta/email`);
  }
  assert.equal(refusedAt, limit);
  const row = await app.db.db.selectFrom('citizens').select('email').where('email', '=', citizen.email).executeTakeFirst();
  assert.ok(row, 'the account keeps its address');
});

test('one target address gets few codes a day, however many accounts ask for it', async () => {
  const target = `disputado-${Date.now()}@example.org`;
  const limit = RATE_LIMITS.emailCodesPerAddress.limit;
  let statuses: number[] = [];
  for (let i = 0; i <= limit; i++) {
    const { ua } = await signedInCitizen();
    const form = await ua.get(`${app.url}/conta/email`);
    const answer = await ua.post(formAction(form, '/conta/email'), { email: target });
    statuses.push(answer.status);
  }
  statuses = statuses.map((s) => (s === 429 ? 429 : 200));
  assert.deepEqual(statuses, [...Array(limit).fill(200), 429]);
  const queued = await app.db.db.selectFrom('messages').select('id').where('recipient', '=', target).execute();
  assert.equal(queued.length, limit);
});
