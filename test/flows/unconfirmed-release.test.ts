import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  addService,
  authorizationRequest,
  newCitizen,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction, formFields } from '../helpers/user-agent.ts';

let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
let svc: TestService;

before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
  svc = await addService(app);
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

/** Registers through the service's login page and stops at the e-mail confirmation page. */
async function registerUnconfirmed(citizen: ReturnType<typeof newCitizen>) {
  const ua = new UserAgent();
  const login = await ua.get((await authorizationRequest(svc)).url.href, svc.redirectUri);
  const form = await ua.get(
    new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href,
  );
  return ua.post(formAction(form, '/register'), citizen, svc.redirectUri);
}

const rowsWithCpf = (cpf: string) =>
  app.db.db
    .selectFrom('citizens')
    .select(['id', 'email', 'status', 'email_verified'])
    .where('cpf', '=', cpf.replace(/\D/g, ''))
    .execute();

const expireCodes = (citizenId: string) =>
  app.db.db
    .updateTable('flows')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('citizen_id', '=', citizenId)
    .execute();

test('an unconfirmed registration keeps the CPF while its code lives, then the owner registers again and the row is replaced', async () => {
  const squatter = newCitizen();
  const first = await registerUnconfirmed(squatter);
  assert.match(first.url, /confirm-email/);
  const [row] = await rowsWithCpf(squatter.cpf);
  const owner = newCitizen({ cpf: squatter.cpf });

  const early = await registerUnconfirmed(owner);
  assert.equal(early.status, 422);
  assert.match(early.html, /CPF já tem cadastro|já está cadastrado|já existe/i);

  await expireCodes(row!.id);
  const again = await registerUnconfirmed(owner);
  assert.match(again.url, /confirm-email/, again.html.slice(0, 1500));
  const rows = await rowsWithCpf(owner.cpf);
  assert.equal(rows.length, 1, 'one account holds the CPF');
  assert.equal(rows[0]!.email, owner.email);
  const old = await app.db.db
    .selectFrom('citizens')
    .select(['status', 'cpf'])
    .where('id', '=', row!.id)
    .executeTakeFirstOrThrow();
  assert.deepEqual(
    old,
    { status: 'deleted', cpf: null },
    'the unconfirmed row is gone (a tombstone keeps only its id)',
  );
  // The squatter's e-mail is free too.
  assert.equal(
    (await app.db.db.selectFrom('identifiers').select('id').where('citizen_id', '=', row!.id).execute())
      .length,
    0,
  );
});

test('a confirmed account is never replaced, however old its codes', async () => {
  const ua = new UserAgent();
  const { citizen } = await registerThroughService(ua, svc, await authorizationRequest(svc), smtp);
  const [row] = await rowsWithCpf(citizen.cpf);
  await expireCodes(row!.id);
  const attack = await registerUnconfirmed(newCitizen({ cpf: citizen.cpf }));
  assert.equal(attack.status, 422);
  const sameEmail = await registerUnconfirmed(newCitizen({ email: citizen.email }));
  assert.equal(sameEmail.status, 422);
  const rows = await rowsWithCpf(citizen.cpf);
  assert.deepEqual(
    rows.map((r) => [r.id, r.status, r.email_verified]),
    [[row!.id, 'active', true]],
  );
});

test('the owner of an unconfirmed registration gets it back at once through recovery of that CPF', async () => {
  const c = newCitizen();
  await registerUnconfirmed(c);
  const ua = new UserAgent();
  const start = await ua.get(`${app.url}/recuperar`);
  const ways = await ua.post(formAction(start, '/recuperar'), {
    ...formFields(start, '/recuperar'),
    identifier: c.cpf,
  });
  const codePage = await ua.post(
    formAction(ways, '/recuperar/opcoes'),
    formFields(ways, '/recuperar/opcoes'),
  );
  const code = codeFrom(await smtp.waitFor(c.email, 15_000, (m) => /recuperar/i.test(m.subject)));
  const pw = await ua.post(formAction(codePage, '/recuperar/codigo'), { code });
  const done = await ua.post(formAction(pw, '/recuperar/senha'), { password: 'caju amarelo de dezembro 19' });
  assert.equal(done.status, 200);
  const [row] = await rowsWithCpf(c.cpf);
  assert.equal(row!.email_verified, true, 'proving the primary e-mail by recovery confirms it');
});
