import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { addService, answerConsent, authorizationRequest, exchange, newCitizen, registerThroughService, type TestService, UserAgent } from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';

// Review finding: POST /conta/dados rewrote the whole profile from a copy read before its
// transaction, so a write-back committed in between was undone in the database while its event
// had told the services the new value. The database and the last event must agree.

let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
let writer: TestService;
let writerToken: string;
let sub: string;
const ua = new UserAgent();

before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url, RELAY: 'off' });
  writer = await addService(app, {
    name: 'Matrícula',
    fields: ['name', 'email', 'social_name'].map((key) => ({ key, required: key !== 'social_name', purpose: `teste (${key})` })),
  });
  const auth = await authorizationRequest(writer, { scope: 'openid profile email cidadela:write' });
  const { page } = await registerThroughService(ua, writer, auth, smtp, newCitizen());
  const callback = await answerConsent(ua, page, writer);
  const tokens = await exchange(writer, auth, callback.url);
  writerToken = tokens.access_token;
  sub = tokens.claims()!.sub;
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

const writeBack = (values: Record<string, unknown>) =>
  fetch(`${app.url}/api/v1/me`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${writerToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(values),
  });

/** The name as the services were last told it (the outbox, in commit order). */
async function lastNameTold(): Promise<string | undefined> {
  const rows = await app.db.db
    .selectFrom('events')
    .select(['data'])
    .where('citizen_id', '=', sub)
    .where('type', '=', 'profile.changed')
    .orderBy('id')
    .execute();
  let name: string | undefined;
  for (const r of rows) {
    const values = (r.data as { values?: Record<string, unknown> }).values ?? {};
    if ('name' in values) name = String(values.name);
  }
  return name;
}

const storedName = async () => (await app.db.db.selectFrom('citizens').select('name').where('id', '=', sub).executeTakeFirstOrThrow()).name;

test('a form shown before a write-back does not put the old name back', async () => {
  const form = await ua.get(`${app.url}/conta/dados`);
  assert.equal(form.status, 200);
  const response = await writeBack({ name: 'Nome Vindo Do Servico' });
  assert.equal(response.status, 200);
  const saved = await ua.post(formAction(form, '/conta/dados'), { ...formFields(form, '/conta/dados'), f_social_name: 'Jô' });
  assert.match(saved.url, /salvo=1/);
  assert.equal(await storedName(), 'Nome Vindo Do Servico');
  assert.equal(await lastNameTold(), 'Nome Vindo Do Servico');
});

test('racing the form against write-backs, the database and the last event always agree', async () => {
  for (let i = 0; i < 12; i++) {
    const form = await ua.get(`${app.url}/conta/dados`);
    const fields = formFields(form, '/conta/dados');
    await Promise.all([
      writeBack({ name: `Nome Servico ${i} Silva` }),
      ua.post(formAction(form, '/conta/dados'), { ...fields, f_social_name: `Apelido ${i}` }),
    ]);
    assert.equal(await storedName(), await lastNameTold(), `try ${i}`);
  }
});
