import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { decodeJwt } from 'jose';
import { sql } from 'kysely';
import * as client from 'openid-client';
import { passwordHashOf, seedCitizen } from '../helpers/citizens.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  loginThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction, formFields, type Page } from '../helpers/user-agent.ts';

/*
 * The security section of /conta through its forms, as a browser without JavaScript: the password
 * change (wrong current password, policy, 10,000-character inputs, CSRF from another session), the
 * sessions list and ending sessions with back-channel logout to the services, the logout after a
 * recovery, the alternate e-mail proven by a code and then usable for recovery.
 */
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
let receiver: Server;
let svc: TestService;
const logouts: { sub: string; sid: string }[] = [];
const HUGE = 'x'.repeat(10_000);

before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const claims = decodeJwt(new URLSearchParams(body).get('logout_token') ?? '');
      logouts.push({ sub: String(claims.sub), sid: String(claims.sid) });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  svc = await addService(app, {
    backchannelLogoutUri: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/bcl`,
  });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
  receiver?.close();
});

/** Signs in at the service (consenting) and returns its tokens: the session now reached the service. */
async function signInAtService(ua: UserAgent, citizen: { cpf: string; password: string }) {
  const auth = await authorizationRequest(svc, { scope: 'openid offline_access' });
  let page = await loginThroughService(ua, svc, auth, citizen.cpf, citizen.password);
  if (page.html.includes('name="decision"')) page = await answerConsent(ua, page, svc);
  assert.ok(
    page.url.startsWith(svc.redirectUri),
    `back at the service: ${page.url}\n${page.html.slice(0, 1500)}`,
  );
  return exchange(svc, auth, page.url);
}

/** The security page at `path` in this browser (signed in already through the same provider session). */
async function open(ua: UserAgent, path: string): Promise<Page> {
  const page = await ua.get(`${app.url}${path}`);
  assert.equal(page.status, 200, `${path}: ${page.html.slice(0, 1500)}`);
  return page;
}

const sessionsOf = async (citizenId: string) =>
  (
    await app.db.db
      .selectFrom('oidc_payloads')
      .select('uid')
      .where('model', '=', 'Session')
      .where('account_id', '=', citizenId)
      .execute()
  ).map((r) => r.uid);

async function waitForLogouts(sub: string, count: number) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const mine = logouts.filter((l) => l.sub === sub);
    if (mine.length >= count) return mine;
    await new Promise((r) => setTimeout(r, 50));
  }
  return logouts.filter((l) => l.sub === sub);
}

test('change password: wrong current, policy, 10,000 characters and a CSRF token from another session change nothing; then it changes, ends the other sessions with back-channel logout, tells every address and the services', async () => {
  const citizen = await seedCitizen(app.db.db);
  const a = new UserAgent();
  const b = new UserAgent();
  await signInAtService(a, citizen);
  const tokensB = await signInAtService(b, citizen);
  const sub = String(tokensB.claims()!.sub);
  const before = await passwordHashOf(app.db.db, citizen.cpf);
  const form = await open(a, '/conta/seguranca/senha');
  const fields = formFields(form, '/conta/seguranca/senha');

  const wrong = await a.post(formAction(form, '/conta/seguranca/senha'), {
    ...fields,
    current: 'not my password at all',
    password: 'mandioca frita com mel 77',
  });
  assert.equal(wrong.status, 401);
  assert.match(wrong.html, /A senha atual não confere\. Nada foi alterado\./);
  const personal = await a.post(formAction(wrong, '/conta/seguranca/senha'), {
    ...fields,
    current: citizen.password,
    password: citizen.cpf.replace(/\D/g, ''),
  });
  assert.equal(personal.status, 422);
  assert.match(personal.html, /id="password-error"/);
  for (const body of [
    { current: HUGE, password: 'mandioca frita com mel 77' },
    { current: citizen.password, password: HUGE },
    { current: HUGE, password: HUGE },
  ]) {
    const huge = await a.post(formAction(form, '/conta/seguranca/senha'), { ...fields, ...body });
    assert.ok([401, 422].includes(huge.status), `a clear refusal, not ${huge.status}`);
    assert.match(huge.html, /class="error"/);
  }
  // B's form token sent with A's cookies: refused before anything is read.
  const bForm = await open(b, '/conta/seguranca/senha');
  const forged = await a.request(formAction(bForm, '/conta/seguranca/senha'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      _csrf: formFields(bForm, '/conta/seguranca/senha')._csrf!,
      current: citizen.password,
      password: 'mandioca frita com mel 77',
    }),
  });
  assert.equal(forged.status, 403);
  assert.equal(await passwordHashOf(app.db.db, citizen.cpf), before, 'nothing changed');
  assert.equal((await sessionsOf(citizen.id)).length, 2);

  const done = await a.post(formAction(form, '/conta/seguranca/senha'), {
    ...fields,
    current: citizen.password,
    password: 'mandioca frita com mel 77',
  });
  assert.equal(done.status, 200, done.html.slice(0, 1500));
  assert.match(done.url, /\/conta\/seguranca\?feito=senha$/);
  assert.notEqual(await passwordHashOf(app.db.db, citizen.cpf), before);
  assert.equal((await sessionsOf(citizen.id)).length, 1, 'only this browser stays signed in');
  assert.equal((await a.get(`${app.url}/conta/seguranca`)).status, 200);
  assert.equal(
    (await b.get(`${app.url}/conta/seguranca`)).url.includes('/interaction/'),
    true,
    'the other browser must sign in again',
  );
  const received = await waitForLogouts(sub, 1);
  assert.equal(received.length, 1, 'the service of the ended session got one back-channel logout');
  assert.equal(received[0]!.sid, String(tokensB.claims()!.sid));
  await assert.rejects(
    client.refreshTokenGrant(svc.config, tokensB.refresh_token!),
    "the ended session's refresh token is revoked",
  );
  const notice = await smtp.waitFor(citizen.email, 15_000, (m) =>
    /senha da sua conta Cidadela foi trocada/.test(m.subject ?? ''),
  );
  assert.match(notice.text, /páginas da conta/);
  const event = await app.db.db
    .selectFrom('events')
    .select(['type', 'data'])
    .where('citizen_id', '=', citizen.id)
    .where('type', '=', 'credential.changed')
    .executeTakeFirst();
  assert.deepEqual(event?.data, { credentialType: 'password', changeType: 'update', reason: 'change' });
  const kinds = (
    await app.db.db
      .selectFrom('security_events')
      .select(['kind', 'result'])
      .where('citizen_id', '=', citizen.id)
      .orderBy('id')
      .execute()
  ).map((r) => `${r.kind}:${r.result}`);
  assert.ok(
    kinds.includes('password_changed:wrong_current') &&
      kinds.includes('password_changed:success') &&
      kinds.includes('sessions_ended:success'),
    kinds.join(),
  );
});

test('sessions: listed with browser, address, use and services; one ended from another browser, with back-channel logout; an unknown or huge id changes nothing', async () => {
  const citizen = await seedCitizen(app.db.db);
  const a = new UserAgent({
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  });
  const b = new UserAgent({
    'user-agent':
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  });
  await signInAtService(a, citizen);
  const tokensB = await signInAtService(b, citizen);
  const page = await open(a, '/conta/seguranca/sessoes');
  assert.match(page.html, /Firefox · Linux<\/strong> <span class="tag">este navegador/);
  assert.match(page.html, /Chrome · Windows/);
  assert.match(page.html, /Endereço: 127\.0\.0\.1/);
  assert.match(page.html, new RegExp(`Serviços: ${svc.clientId ? 'Serviço de teste' : ''}`));
  const forms = [...page.html.matchAll(/name="session" value="([^"]+)"/g)].map((m) => m[1]!);
  assert.equal(forms.length, 1, 'only the other session has an end button');

  for (const session of ['nobody', HUGE]) {
    const refused = await a.post(formAction(page, '/conta/seguranca/sessoes/encerrar'), {
      ...formFields(page, '/conta/seguranca/sessoes/encerrar'),
      session,
    });
    assert.equal(refused.status, 404);
    assert.match(refused.html, /Essa sessão não existe mais ou não é sua/);
  }
  assert.equal((await sessionsOf(citizen.id)).length, 2);
  // A's form token with B's cookies: refused.
  const forged = await b.request(`${app.url}/conta/seguranca/sessoes/encerrar-outras`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: formFields(page, '/conta/seguranca/sessoes/encerrar-outras')._csrf! }),
  });
  assert.equal(forged.status, 403);
  assert.equal((await sessionsOf(citizen.id)).length, 2);

  const ended = await a.post(formAction(page, '/conta/seguranca/sessoes/encerrar'), {
    ...formFields(page, '/conta/seguranca/sessoes/encerrar'),
    session: forms[0]!,
  });
  assert.equal(ended.status, 200);
  assert.match(ended.html, /Sessão encerrada/);
  assert.doesNotMatch(ended.html, /Chrome · Windows/);
  assert.equal((await sessionsOf(citizen.id)).length, 1);
  const received = await waitForLogouts(String(tokensB.claims()!.sub), 1);
  assert.deepEqual(
    received.map((l) => l.sid),
    [String(tokensB.claims()!.sid)],
  );
  await assert.rejects(client.refreshTokenGrant(svc.config, tokensB.refresh_token!));
  assert.ok(
    (await b.get(`${app.url}/conta/seguranca/sessoes`)).url.includes('/interaction/'),
    'B signs in again',
  );
});

test('after a recovery every session ends and its services get the back-channel logout', async () => {
  const citizen = await seedCitizen(app.db.db);
  const a = new UserAgent();
  const tokens = await signInAtService(a, citizen);
  const r = new UserAgent();
  const start = await r.get(`${app.url}/recuperar`);
  const ways = await r.post(formAction(start, '/recuperar'), {
    ...formFields(start, '/recuperar'),
    identifier: citizen.cpf,
  });
  const codePage = await r.post(formAction(ways, '/recuperar/opcoes'), {
    way: ways.html.match(/name="way" value="([^"]+)"/)![1]!,
  });
  const mail = await smtp.waitFor(citizen.email, 15_000, (m) => m.text.includes('/recuperar/codigo'));
  const passwordPage = await r.post(formAction(codePage, '/recuperar/codigo'), { code: codeFrom(mail) });
  const done = await r.post(formAction(passwordPage, '/recuperar/senha'), {
    password: 'jabuticaba no quintal 64',
  });
  assert.equal(done.status, 200);
  assert.deepEqual(await sessionsOf(citizen.id), []);
  const received = await waitForLogouts(String(tokens.claims()!.sub), 1);
  assert.deepEqual(
    received.map((l) => l.sid),
    [String(tokens.claims()!.sid)],
  );
  await assert.rejects(client.refreshTokenGrant(svc.config, tokens.refresh_token!));
});

test('alternate e-mail: proven by a code before it counts, then a way to recover; removing it asks the password when the sign-in is old and tells the address', async () => {
  const citizen = await seedCitizen(app.db.db);
  const alternate = `alt.${citizen.id.slice(0, 8)}@example.test`.toLowerCase();
  const a = new UserAgent();
  await signInAtService(a, citizen);
  let page = await open(a, '/conta/seguranca/contatos');
  assert.doesNotMatch(page.html, /name="password"/, 'a fresh sign-in is enough');
  for (const [email, message] of [
    ['not an address', /Informe um e-mail válido/],
    [`${HUGE}@example.test`, /longo demais/],
    [citizen.email, /já é um contato confirmado/],
  ] as const) {
    const refused = await a.post(formAction(page, '/conta/seguranca/contatos'), {
      ...formFields(page, '/conta/seguranca/contatos'),
      email,
    });
    assert.equal(refused.status, 422, String(email).slice(0, 40));
    assert.match(refused.html, message);
  }
  const sent = await a.post(formAction(page, '/conta/seguranca/contatos'), {
    ...formFields(page, '/conta/seguranca/contatos'),
    email: alternate,
  });
  assert.match(sent.url, /\/contatos\/confirmar$/);
  // Not yet a way to recover: only the primary is offered.
  const recoveryWays = async () => {
    const r = new UserAgent();
    const start = await r.get(`${app.url}/recuperar`);
    const ways = await r.post(formAction(start, '/recuperar'), {
      ...formFields(start, '/recuperar'),
      identifier: citizen.cpf,
    });
    return { r, ways };
  };
  assert.equal([...(await recoveryWays()).ways.html.matchAll(/name="way"/g)].length, 1);
  const wrong = await a.post(formAction(sent, '/contatos/confirmar'), { code: HUGE });
  assert.equal(wrong.status, 422);
  const mail = await smtp.waitFor(alternate, 15_000);
  const confirmed = await a.post(formAction(sent, '/contatos/confirmar'), { code: codeFrom(mail) });
  assert.match(confirmed.url, /feito=adicionado/);
  assert.match(confirmed.html, new RegExp(alternate.replace(/\./g, '\\.')));
  await smtp.waitFor(citizen.email, 15_000, (m) => /alternativo foi adicionado/.test(m.subject ?? ''));

  // Now it is offered, and a recovery through it works.
  const { r, ways } = await recoveryWays();
  const options = [...ways.html.matchAll(/name="way" value="([^"]+)"[^>]*><label for="way-\d+">([^<]+)</g)];
  assert.equal(options.length, 2);
  const viaAlternate = options.find(
    (o) => o[2]!.includes(alternate.slice(0, 2)) && o[2]!.includes('example.test') && o[1] !== options[0]![1],
  )!;
  const codePage = await r.post(formAction(ways, '/recuperar/opcoes'), { way: viaAlternate[1]! });
  const recoveryMail = await smtp.waitFor(alternate, 15_000, (m) => m.text.includes('/recuperar/codigo'));
  const newPassword = await r.post(formAction(codePage, '/recuperar/codigo'), {
    code: codeFrom(recoveryMail),
  });
  assert.match(newPassword.url, /\/recuperar\/senha$/);

  // An old sign-in: the password again, and a wrong one changes nothing.
  const b = new UserAgent();
  await signInAtService(b, { cpf: citizen.cpf, password: citizen.password });
  await sql`update oidc_payloads set payload = jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600)) where model = 'Session' and account_id = ${citizen.id}`.execute(
    app.db.db,
  );
  page = await open(b, '/conta/seguranca/contatos');
  assert.match(page.html, /name="password"/);
  const denied = await b.post(formAction(page, '/conta/seguranca/contatos/remover'), {
    ...formFields(page, '/conta/seguranca/contatos/remover'),
    email: alternate,
    password: 'wrong password here',
  });
  assert.equal(denied.status, 401);
  assert.match(denied.html, /A senha atual não confere/);
  const removed = await b.post(formAction(page, '/conta/seguranca/contatos/remover'), {
    ...formFields(page, '/conta/seguranca/contatos/remover'),
    email: alternate,
    password: citizen.password,
  });
  assert.match(removed.url, /feito=removido/);
  await smtp.waitFor(alternate, 15_000, (m) => /alternativo foi removido/.test(m.subject ?? ''));
  const left = await app.db.db
    .selectFrom('identifiers')
    .select('value')
    .where('citizen_id', '=', citizen.id)
    .where('kind', '=', 'email')
    .execute();
  assert.deepEqual(
    left.map((i) => i.value),
    [citizen.email],
  );
});

test("alternate e-mail: another account's address is refused, and asking is limited like sending", async () => {
  const citizen = await seedCitizen(app.db.db);
  const other = await seedCitizen(app.db.db);
  const a = new UserAgent();
  await signInAtService(a, citizen);
  const page = await open(a, '/conta/seguranca/contatos');
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const refused = await a.post(formAction(page, '/conta/seguranca/contatos'), {
      ...formFields(page, '/conta/seguranca/contatos'),
      email: other.email,
    });
    statuses.push(refused.status);
  }
  assert.deepEqual(statuses, [409, 409, 409, 409, 409, 429]);
  const ids = await app.db.db.selectFrom('identifiers').select('value').where('citizen_id', '=', citizen.id).where('kind', '=', 'email').execute();
  assert.deepEqual(ids.map((i) => i.value), [citizen.email], 'nothing added');
});
