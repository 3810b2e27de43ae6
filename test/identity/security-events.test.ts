import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { createSecurityEvents, securityEventsEraser } from '../../src/identity/security-events.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  loginThroughService,
  UserAgent,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';

/*
 * The citizen's security record: what signs in, fails, recovers and changes is written there,
 * naming no secret; the table keeps what it was given (no update, no delete) except for the
 * erasure of a deleted account.
 */
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
const UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

/** The citizen's rows, oldest first, once `count` of them are there (failures are written after the answer). */
async function rowsOf(citizenId: string, count: number) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await app.db.db
      .selectFrom('security_events')
      .selectAll()
      .where('citizen_id', '=', citizenId)
      .orderBy('id')
      .execute();
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('sign-ins, failures and a recovery are recorded with method, service, address and browser, and no secret', async () => {
  const svc = await addService(app);
  const citizen = await seedCitizen(app.db.db);
  const ua = new UserAgent({ 'user-agent': UA });
  const wrong = await loginThroughService(
    ua,
    svc,
    await authorizationRequest(svc),
    citizen.cpf,
    'not the password at all',
  );
  assert.equal(wrong.status, 401);
  const page = await loginThroughService(
    ua,
    svc,
    await authorizationRequest(svc),
    citizen.cpf,
    citizen.password,
  );
  await answerConsent(ua, page, svc);

  // Recovery by e-mail, through the pages.
  const other = new UserAgent({ 'user-agent': UA });
  const start = await other.get(`${app.url}/recuperar`);
  const ways = await other.post(formAction(start, '/recuperar'), {
    ...formFields(start, '/recuperar'),
    identifier: citizen.email,
  });
  const way = ways.html.match(/name="way" value="([^"]+)"/)![1]!;
  const codePage = await other.post(formAction(ways, '/recuperar/opcoes'), { way });
  const mail = await smtp.waitFor(citizen.email, 15_000, (m) => m.text.includes('/recuperar/codigo'));
  const code = codeFrom(mail);
  const passwordPage = await other.post(formAction(codePage, '/recuperar/codigo'), { code });
  const done = await other.post(formAction(passwordPage, '/recuperar/senha'), {
    password: 'goiaba branca na feira 81',
  });
  assert.equal(done.status, 200, done.html.slice(0, 1500));

  const rows = await rowsOf(citizen.id, 6);
  const summary = rows.map((r) => `${r.kind}:${r.result}`);
  assert.deepEqual(summary, [
    'sign_in:failure',
    'sign_in:success',
    'recovery:started',
    'recovery:proven',
    'recovery:reset',
    'password_changed:success',
  ]);
  const [failure, success] = rows;
  assert.equal(failure!.method, 'password');
  assert.equal(failure!.client_id, svc.clientId);
  assert.equal(success!.method, 'password');
  assert.equal(success!.client_id, svc.clientId);
  assert.equal(success!.ip, '127.0.0.1');
  assert.deepEqual([success!.browser, success!.system], ['Chrome', 'Linux']);
  assert.equal(rows[3]!.method, 'email_code', 'the recovery names its strategy');
  assert.deepEqual(rows[5]!.detail, { via: 'recovery' });
  const everything = JSON.stringify(rows);
  for (const secret of [
    citizen.cpf.replace(/\D/g, ''),
    citizen.password,
    code,
    'goiaba',
    citizen.email,
    'Mozilla',
  ])
    assert.ok(!everything.includes(secret), `the record does not hold ${secret.slice(0, 3)}…`);

  // The account pages' reading: newest first, with the service's name.
  const recent = await createSecurityEvents(app.db.db).recentFor(citizen.id, { kinds: ['sign_in'] });
  assert.deepEqual(
    recent.map((e) => e.result),
    ['success', 'failure'],
  );
  assert.match(recent[0]!.serviceName ?? '', /Serviço de teste/);
});

test('a wrong password for nobody writes nothing; what a detail may carry is filtered', async () => {
  const svc = await addService(app);
  const before = Number(
    (await sql<{ n: string }>`select count(*) as n from security_events`.execute(app.db.db)).rows[0]!.n,
  );
  await loginThroughService(
    new UserAgent(),
    svc,
    await authorizationRequest(svc),
    'ninguem@example.test',
    'whatever it is 123',
  );
  const citizen = await seedCitizen(app.db.db);
  await createSecurityEvents(app.db.db).record({
    citizenId: citizen.id,
    kind: 'channel_added',
    detail: { channel: 'alternate_email', masked: 'm***@example.test', code: '123456' } as never,
  });
  const rows = await app.db.db.selectFrom('security_events').selectAll().execute();
  assert.equal(rows.length, before + 1, 'only the one recorded here');
  assert.deepEqual(rows.at(-1)!.detail, { channel: 'alternate_email', masked: 'm***@example.test' });
});

test('the record refuses updates and deletes; the eraser removes one account and nothing else', async () => {
  const events = createSecurityEvents(app.db.db);
  const a = await seedCitizen(app.db.db);
  const b = await seedCitizen(app.db.db);
  for (const c of [a, b])
    await events.record({ citizenId: c.id, kind: 'password_changed', detail: { via: 'account' } });
  await assert.rejects(
    app.db.db
      .updateTable('security_events')
      .set({ result: 'failure' })
      .where('citizen_id', '=', a.id)
      .execute(),
    /append-only/,
  );
  await assert.rejects(
    app.db.db.deleteFrom('security_events').where('citizen_id', '=', a.id).execute(),
    /append-only/,
  );
  // Naming one account does not open the door for another's rows.
  await assert.rejects(
    app.db.db.transaction().execute(async (trx) => {
      await sql`select set_config('cidadela.erasing_citizen', ${a.id}, true)`.execute(trx);
      await trx.deleteFrom('security_events').where('citizen_id', '=', b.id).execute();
    }),
    /append-only/,
  );
  await app.db.db.transaction().execute((trx) => securityEventsEraser.erase(trx, a.id));
  assert.equal((await events.recentFor(a.id)).length, 0);
  assert.equal((await events.recentFor(b.id)).length, 1);
  // The door closes with the erasure: later in the same transaction, nothing else goes.
  await assert.rejects(
    app.db.db.transaction().execute(async (trx) => {
      await securityEventsEraser.erase(trx, a.id);
      await trx.deleteFrom('security_events').where('citizen_id', '=', a.id).execute();
      await events.record({ citizenId: a.id, kind: 'sign_in' }, trx);
      await trx.deleteFrom('security_events').where('citizen_id', '=', a.id).execute();
    }),
    /append-only/,
  );
});
