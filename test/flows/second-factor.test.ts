import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeHtml } from '../../src/web/html.ts';
import { type Locale, loadMessages } from '../../src/platform/i18n.ts';
import { codeAt, TOTP_PERIOD } from '../../src/methods/totp/totp.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  registerThroughService,
  type TestService,
  UserAgent,
} from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { csrfOf, formAction, type Page } from '../helpers/user-agent.ts';

const messages = loadMessages();

function assertMessage(page: Page, key: string, params: Record<string, string> = {}, locale: Locale = 'pt-BR') {
  const text = messages[locale][key]!.replace(/\{(\w+)\}/g, (m, name: string) => params[name] ?? m);
  assert.ok(page.html.includes(escapeHtml(text)), `expected ${key} ("${text}") on ${page.url} (${page.status}):\n${page.html.slice(0, 2500)}`);
}

/** The secret an enrolment page shows as text (the same one its QR code carries). */
function secretOn(page: Page): string {
  const grouped = page.html.match(/id="totp-secret">([A-Z2-7 ]+)</)?.[1];
  assert.ok(grouped, `no secret on ${page.url}:\n${page.html.slice(0, 2000)}`);
  return grouped.replace(/ /g, '');
}

/** A code of a later time step than any used so far in this test (the app's next code). */
const nextCode = (secret: string) => codeAt(secret, Date.now() + TOTP_PERIOD * 1000);

let ipCounter = 0;
const freshBrowser = () => new UserAgent({ 'x-forwarded-for': `10.61.0.${++ipCounter}` });

describe('second factor: authenticator app codes, the second step, services that require it', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let svc: TestService;

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url, TRUST_PROXY: 'true' });
    svc = await addService(app);
  });
  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  /** A registered citizen, signed in at `svc` in `ua` (a fresh session), consent given. */
  async function registered(ua: UserAgent, at: TestService = svc) {
    const { page, citizen } = await registerThroughService(ua, at, await authorizationRequest(at), smtp);
    const back = await answerConsent(ua, page, at);
    assert.ok(back.url.startsWith(at.redirectUri));
    const row = await app.db.db.selectFrom('citizens').select('id').where('email', '=', citizen.email).executeTakeFirstOrThrow();
    return { ...citizen, id: row.id };
  }

  /** Adds an authenticator on /conta/seguranca; returns its secret. */
  async function enrolOnAccount(ua: UserAgent): Promise<string> {
    const overview = await ua.get(`${app.url}/conta/seguranca/fatores`);
    assert.equal(overview.status, 200);
    const page = await ua.get(`${app.url}/conta/seguranca/autenticador`);
    assert.equal(page.status, 200);
    assert.match(page.html, /<svg [^>]*role="img"/, 'the QR code is drawn in the page');
    const secret = secretOn(page);
    const done = await ua.post(formAction(page, '/conta/seguranca/autenticador'), { enrolment: hidden(page, 'enrolment'), code: codeAt(secret, Date.now()) });
    assert.match(done.url, /\/conta\/seguranca\?adicionado=1$/);
    return secret;
  }

  const hidden = (page: Page, name: string) => page.html.match(new RegExp(`name="${name}" value="([^"]+)"`))![1]!;

  test('enrolment asks for a code first; the secret is sealed; the owner and the services are told', async () => {
    const ua = freshBrowser();
    const citizen = await registered(ua);
    const page = await ua.get(`${app.url}/conta/seguranca/autenticador`);
    const secret = secretOn(page);
    const enrolment = hidden(page, 'enrolment');
    // Letters, a wrong code: refused with the page kept (same secret), nothing saved.
    const letters = await ua.post(formAction(page, '/conta/seguranca/autenticador'), { enrolment, code: 'abc123' });
    assert.equal(letters.status, 422);
    assertMessage(letters, 'totp.format');
    assert.equal(secretOn(letters), secret);
    const wrongCode = codeAt(secret, Date.now() - 10 * TOTP_PERIOD * 1000);
    const wrong = await ua.post(formAction(letters, '/conta/seguranca/autenticador'), { enrolment, code: wrongCode });
    assert.equal(wrong.status, 401);
    assertMessage(wrong, 'totp.invalid');
    const none = await app.db.db.selectFrom('credentials').select('id').where('citizen_id', '=', citizen.id).where('type', '=', 'totp').execute();
    assert.equal(none.length, 0);
    // Another account's enrolment token is not this one's.
    const other = freshBrowser();
    await registered(other);
    const otherPage = await other.get(`${app.url}/conta/seguranca/autenticador`);
    const foreign = await ua.post(formAction(wrong, '/conta/seguranca/autenticador'), { enrolment: hidden(otherPage, 'enrolment'), code: codeAt(secretOn(otherPage), Date.now()) });
    assert.equal(foreign.status, 422);
    assertMessage(foreign, 'totp.enrol_expired');

    // (The refusal page above has no form of its own: the token of the enrolment page is sent.)
    const done = await ua.post(formAction(wrong, '/conta/seguranca/autenticador'), { enrolment, code: codeAt(secret, Date.now()), _csrf: csrfOf(wrong.html)! });
    assert.match(done.url, /adicionado=1/, done.html.slice(0, 3000));
    assertMessage(done, 'security.added');
    const row = await app.db.db.selectFrom('credentials').selectAll().where('citizen_id', '=', citizen.id).where('type', '=', 'totp').executeTakeFirstOrThrow();
    assert.ok(row.secret && !row.secret.includes(secret) && row.secret.startsWith('v1.'), 'the secret is sealed at rest');
    const mail = await smtp.waitFor(citizen.email, 60_000, (m) => m.subject === messages['pt-BR']['mail.factor_added.subject']);
    assert.match(mail.text, /Aplicativo autenticador/);
    const event = await app.db.db
      .selectFrom('events')
      .selectAll()
      .where('citizen_id', '=', citizen.id)
      .where('type', '=', 'credential.changed')
      .executeTakeFirstOrThrow();
    assert.deepEqual(event.data, { credentialType: 'app', changeType: 'create', reason: 'change' });
    assert.deepEqual(event.audience, [svc.clientId]);
  });

  test('every password sign-in then asks for a code: replayed, too old and letters refused; amr pwd otp mfa', async () => {
    const first = freshBrowser();
    const citizen = await registered(first);
    const secret = await enrolOnAccount(first);
    const enrolStepCode = codeAt(secret, Date.now());

    const ua = freshBrowser();
    const auth = await authorizationRequest(svc, { max_age: '600' });
    const login = await ua.get(auth.url.href, svc.redirectUri);
    const step = await ua.post(formAction(login, '/login'), { identifier: citizen.cpf, password: citizen.password }, svc.redirectUri);
    assert.match(step.url, /\/segundo-passo$/, 'the password alone does not sign in');
    assertMessage(step, 'second_step.intro');
    const action = formAction(step, '/segundo-passo');

    const replayed = await ua.post(action, { method: 'totp', code: enrolStepCode }, svc.redirectUri);
    // The enrolment spent its step: the same code (or an older one) is refused.
    assert.equal(replayed.status, 401);
    assertMessage(replayed, 'totp.replayed');
    const tooOld = await ua.post(action, { method: 'totp', code: codeAt(secret, Date.now() - 2 * TOTP_PERIOD * 1000 - 1000) }, svc.redirectUri);
    assert.equal(tooOld.status, 401);
    assert.ok(tooOld.html.includes(escapeHtml(messages['pt-BR']['totp.invalid']!)) || tooOld.html.includes(escapeHtml(messages['pt-BR']['totp.replayed']!)));
    const letters = await ua.post(action, { method: 'totp', code: '12a456' }, svc.redirectUri);
    assert.equal(letters.status, 422);
    assertMessage(letters, 'totp.format');

    const code = nextCode(secret);
    const back = await ua.post(action, { method: 'totp', code: ` ${code.slice(0, 3)} ${code.slice(3)} ` }, svc.redirectUri);
    assert.ok(back.url.startsWith(svc.redirectUri), `back at the service: ${back.url}\n${back.html.slice(0, 1500)}`);
    const tokens = await exchange(svc, auth, back.url);
    const claims = tokens.claims()!;
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(typeof claims.auth_time, 'number');
    assert.ok(Math.abs(Number(claims.auth_time) - Date.now() / 1000) < 120);

    // The same code in another browser (a phished code relayed): refused, once is all.
    const thief = freshBrowser();
    const auth2 = await authorizationRequest(svc);
    const login2 = await thief.get(auth2.url.href, svc.redirectUri);
    const step2 = await thief.post(formAction(login2, '/login'), { identifier: citizen.email, password: citizen.password }, svc.redirectUri);
    const again = await thief.post(formAction(step2, '/segundo-passo'), { method: 'totp', code }, svc.redirectUri);
    assert.equal(again.status, 401);
    assertMessage(again, 'totp.replayed');

    // prompt=login over a live session asks for the password and the code again.
    const forced = await ua.get((await authorizationRequest(svc, { prompt: 'login' })).url.href, svc.redirectUri);
    assert.equal(forced.status, 200);
    assert.match(forced.html, /name="password"/);
    // max_age=0: the same.
    const aged = await ua.get((await authorizationRequest(svc, { max_age: '0' })).url.href, svc.redirectUri);
    assert.match(aged.html, /name="password"/);
  });

  test('5 wrong codes per 15 minutes per account: then even the right one waits', async () => {
    const first = freshBrowser();
    const citizen = await registered(first);
    const secret = await enrolOnAccount(first);
    const ua = freshBrowser();
    const auth = await authorizationRequest(svc);
    const login = await ua.get(auth.url.href, svc.redirectUri);
    let page = await ua.post(formAction(login, '/login'), { identifier: citizen.cpf, password: citizen.password }, svc.redirectUri);
    const action = formAction(page, '/segundo-passo');
    const wrong = codeAt(secret, Date.now() - 20 * TOTP_PERIOD * 1000);
    for (let i = 0; i < 4; i++) {
      page = await ua.post(action, { method: 'totp', code: wrong }, svc.redirectUri);
      assert.equal(page.status, 401);
    }
    page = await ua.post(action, { method: 'totp', code: wrong }, svc.redirectUri);
    assert.equal(page.status, 429, 'the fifth wrong code says the account waits');
    assert.ok(page.headers.get('retry-after'));
    page = await ua.post(action, { method: 'totp', code: nextCode(secret) }, svc.redirectUri);
    assert.equal(page.status, 429, 'the right code is not even compared while the account is limited');
    const used = await app.db.db.selectFrom('credentials').select('last_used_at').where('citizen_id', '=', citizen.id).where('type', '=', 'totp').executeTakeFirstOrThrow();
    assert.equal(used.last_used_at, null);
  });

  test('a service requiring a second step sends a password-only citizen to enrolment, then gets amr with mfa; the last factor cannot go', async () => {
    const strict = await addService(app, { name: 'Serviço com segundo passo', requireSecondFactor: true });
    const ua = freshBrowser();
    const citizen = await registered(ua);
    // Signed in at `svc` with a password: that session does not open the strict service.
    const auth = await authorizationRequest(strict);
    const login = await ua.get(auth.url.href, strict.redirectUri);
    assert.match(login.html, /name="password"/, 'a session without a second step is asked to sign in again');
    const enrol = await ua.post(formAction(login, '/login'), { identifier: citizen.cpf, password: citizen.password }, strict.redirectUri);
    assert.match(enrol.url, /\/segundo-passo\/cadastrar$/);
    assertMessage(enrol, 'totp.enrol_intro_service');
    const secret = secretOn(enrol);
    const consent = await ua.post(formAction(enrol, '/segundo-passo/cadastrar'), { enrolment: hidden(enrol, 'enrolment'), code: codeAt(secret, Date.now()) }, strict.redirectUri);
    const back = await answerConsent(ua, consent, strict);
    const claims = (await exchange(strict, auth, back.url)).claims()!;
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);

    // The enrolment page is not offered to a citizen who already has a factor.
    const other = await ua.get(`${app.url}/conta/seguranca/fatores`);
    const id = other.html.match(/action="\/conta\/seguranca\/([^/"]+)\/remover"/)![1]!;
    const refused = await ua.post(formAction(other, '/remover'), {});
    assert.equal(refused.status, 409);
    assertMessage(refused, 'factor.last_required', { services: 'Serviço com segundo passo' });
    const still = await app.db.db.selectFrom('credentials').select('id').where('id', '=', id).execute();
    assert.equal(still.length, 1, 'nothing changed');
  });

  test('removing a factor (no service requires it) is announced', async () => {
    const ua = freshBrowser();
    const citizen = await registered(ua);
    await enrolOnAccount(ua);
    const page = await ua.get(`${app.url}/conta/seguranca/fatores`);
    const done = await ua.post(formAction(page, '/remover'), {});
    assert.match(done.url, /removido=1/);
    const left = await app.db.db.selectFrom('credentials').select('id').where('citizen_id', '=', citizen.id).where('type', '=', 'totp').execute();
    assert.equal(left.length, 0);
    await smtp.waitFor(citizen.email, 60_000, (m) => m.subject === messages['pt-BR']['mail.factor_removed.subject']);
    const events = await app.db.db.selectFrom('events').select('data').where('citizen_id', '=', citizen.id).where('type', '=', 'credential.changed').execute();
    assert.deepEqual(events.map((e) => (e.data as { changeType: string }).changeType).sort(), ['create', 'delete']);
  });
});

describe('recovery does not go around the second factor', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let svc: TestService;

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url, TRUST_PROXY: 'true' });
    svc = await addService(app);
  });
  after(async () => {
    await app?.stop();
    await smtp?.close();
  });

  test('a reset by e-mail from a service login page still asks for the code before the new password and the sign-in', async () => {
    const first = freshBrowser();
    const { page, citizen } = await registerThroughService(first, svc, await authorizationRequest(svc), smtp);
    await answerConsent(first, page, svc);
    const enrolPage = await first.get(`${app.url}/conta/seguranca/autenticador`);
    const secret = secretOn(enrolPage);
    await first.post(formAction(enrolPage, '/conta/seguranca/autenticador'), {
      enrolment: enrolPage.html.match(/name="enrolment" value="([^"]+)"/)![1]!,
      code: codeAt(secret, Date.now()),
    });

    const ua = freshBrowser();
    const auth = await authorizationRequest(svc);
    const login = await ua.get(auth.url.href, svc.redirectUri);
    const forgot = new URL(login.html.match(/href="(\/interaction\/[^"]+\/recuperar)"/)![1]!, login.url).href;
    const start = await ua.get(forgot);
    const ways = await ua.post(formAction(start, '/recuperar'), { ...Object.fromEntries([...start.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!])), identifier: citizen.cpf });
    const way = ways.html.match(/name="way" value="(email_code:\d+)"/)![1]!;
    const codePage = await ua.post(formAction(ways, '/recuperar/opcoes'), { way });
    const mail = await smtp.waitFor(citizen.email, 60_000, (m) => /recuperar/i.test(m.subject));
    const code = mail.text.match(/\b(\d{6})\b/)![1]!;
    const second = await ua.post(formAction(codePage, '/recuperar/codigo'), { code });
    assert.match(second.url, /\/recuperar\/segundo-passo$/, 'the code by e-mail alone does not reach the new password');
    assertMessage(second, 'second_step.intro_recovery');
    // The new password page is not reachable around it.
    const around = await ua.get(`${app.url}/recuperar/senha`);
    assert.match(around.url, /\/recuperar\/segundo-passo$/);
    const sealed = await app.db.db.selectFrom('credentials').select('secret').where('type', '=', 'password').where('citizen_id', '=', (await app.db.db.selectFrom('citizens').select('id').where('email', '=', citizen.email).executeTakeFirstOrThrow()).id).executeTakeFirstOrThrow();
    const direct = await ua.post(`${app.url}/recuperar/senha`, { password: 'pitanga vermelha no muro 33', _csrf: csrfOf(around.html)! });
    assert.match(direct.url, /\/recuperar\/segundo-passo$/);
    const unchanged = await app.db.db.selectFrom('credentials').select('secret').where('type', '=', 'password').where('secret', '=', sealed.secret).execute();
    assert.equal(unchanged.length, 1, 'the password did not change');

    const wrong = await ua.post(formAction(around, '/recuperar/segundo-passo'), { method: 'totp', code: codeAt(secret, Date.now() - 20 * TOTP_PERIOD * 1000) });
    assert.equal(wrong.status, 401);
    assertMessage(wrong, 'totp.invalid');
    const pw = await ua.post(formAction(wrong, '/recuperar/segundo-passo'), { method: 'totp', code: nextCode(secret) });
    assert.match(pw.url, /\/recuperar\/senha$/);
    const back = await ua.post(formAction(pw, '/recuperar/senha'), { password: 'pitanga vermelha no muro 33' }, svc.redirectUri);
    assert.ok(back.url.startsWith(svc.redirectUri), `back at the service: ${back.url}\n${back.html.slice(0, 1500)}`);
    const claims = (await exchange(svc, auth, back.url)).claims()!;
    // A code by mail and a code from the app are both something held: `otp`, not two kinds of factor.
    assert.deepEqual(claims.amr, ['otp']);
  });
});
