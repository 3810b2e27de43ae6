import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { addService, answerConsent, authorizationRequest, registerThroughService, UserAgent } from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

// Review finding (8, last item): a browser left signed in could move the account to another
// mailbox with no password and without the old address hearing of it.

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

test('an old sign-in must give the password to change the e-mail; the old address is told', async () => {
  const svc = await addService(app);
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const { page, citizen } = await registerThroughService(ua, svc, auth, smtp);
  await answerConsent(ua, page, svc);
  const row = await app.db.db.selectFrom('citizens').select('id').where('email', '=', citizen.email).executeTakeFirstOrThrow();
  // The sign-in happened an hour ago.
  await app.db.db
    .updateTable('oidc_payloads')
    .set({ payload: sql`jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600))` })
    .where('model', '=', 'Session')
    .where(sql<string>`payload->>'accountId'`, '=', row.id)
    .execute();

  const form = await ua.get(`${app.url}/conta/email`);
  assert.match(form.html, /name="password"/, 'the form asks for the password');
  const target = `novo-${Date.now()}@example.org`;
  const without = await ua.post(formAction(form, '/conta/email'), { email: target });
  assert.equal(without.status, 401);
  const wrong = await ua.post(formAction(without, '/conta/email'), { email: target, password: 'not the password at all 9' });
  assert.equal(wrong.status, 401);
  assert.equal((await app.db.db.selectFrom('messages').select('id').where('recipient', '=', target).execute()).length, 0, 'no code sent');

  const right = await ua.post(formAction(wrong, '/conta/email'), { email: target, password: citizen.password });
  assert.match(right.url, /\/conta\/email\/confirmar$/);
  const seen = smtp.inbox.length;
  const mail = await smtp.waitFor(target);
  const done = await ua.post(formAction(right, '/conta/email/confirmar'), { code: codeFrom(mail) });
  assert.match(done.url, /salvo=email/);
  const notice = await smtp.waitFor(citizen.email, 15_000, (m) => smtp.inbox.indexOf(m) >= seen);
  assert.match(notice.subject, /foi trocado/);
  assert.ok(!notice.text.includes(target), 'the new address is shown masked');
});
