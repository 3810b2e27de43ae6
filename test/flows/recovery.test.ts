import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { createCitizenStore } from '../../src/identity/citizen-store.ts';
import { cpfFromBase } from '../../src/identity/cpf.ts';
import { createPasswordHasher } from '../../src/methods/password/password-hasher.ts';
import { createAccountActions } from '../../src/personal-data.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import {
  addService,
  answerConsent,
  authorizationRequest,
  exchange,
  newCitizen,
  registerThroughService,
  UserAgent,
} from '../helpers/journeys.ts';
import { codeFrom, startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { csrfOf, formAction, formFields, type Page } from '../helpers/user-agent.ts';

// The SMS carrier cannot run here: a gateway on loopback stands in for the city's (as phone.test.ts).
const sms: { to: string; text: string }[] = [];
let gateway: Server;
let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;

before(async () => {
  gateway = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const parsed = JSON.parse(body);
      sms.push({ to: parsed.to, text: parsed.text });
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  smtp = await startSmtpPeer();
  app = await startTestApp({
    SMTP_URL: smtp.url,
    SMS_GATEWAY_URL: `http://127.0.0.1:${(gateway.address() as { port: number }).port}/sms`,
  });
});
after(async () => {
  await app?.stop();
  await smtp?.close();
  gateway?.close();
});

async function waitForSms(to: string, count: number) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const mine = sms.filter((r) => r.to === to);
    if (mine.length >= count) return mine[count - 1]!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no SMS number ${count} to ${to}`);
}

/** A confirmed citizen with a proven mobile number. */
async function citizenWithPhone(phone: string) {
  const c = newCitizen();
  const citizens = createCitizenStore(app.db.db);
  const { id } = await citizens.create({
    cpf: c.cpf.replace(/\D/g, ''),
    email: c.email,
    name: c.name,
    socialName: null,
    birthdate: c.birthdate,
    phoneNumber: phone,
    passwordHash: await createPasswordHasher().hash(c.password),
    locale: null,
  });
  await citizens.markEmailVerified(id);
  assert.equal(await citizens.markPhoneVerified(id, phone), 'verified');
  return { ...c, id };
}

const passwordHash = async (id: string) =>
  (
    await app.db.db
      .selectFrom('credentials')
      .select('secret')
      .where('citizen_id', '=', id)
      .where('type', '=', 'password')
      .executeTakeFirst()
  )?.secret ?? null;

/** Through the pages up to the code page, choosing the option whose label matches `way`. */
async function startRecovery(ua: UserAgent, identifier: string, way: RegExp, from = `${app.url}/recuperar`) {
  const start = await ua.get(from);
  const ways = await ua.post(formAction(start, '/recuperar'), {
    ...formFields(start, '/recuperar'),
    identifier,
  });
  assert.equal(ways.status, 200, ways.html.slice(0, 2000));
  const value = [
    ...ways.html.matchAll(
      /<input type="radio" id="way-\d+" name="way" value="([^"]+)"[^>]*><label for="way-\d+">([^<]+)</g,
    ),
  ].find((m) => way.test(m[2]!))?.[1];
  assert.ok(value, `an option matching ${way} on\n${ways.html}`);
  const codePage = await ua.post(formAction(ways, '/recuperar/opcoes'), { way: value });
  return { ways, codePage };
}

test('e-mail recovery from a service login page: masked ways, code by mail with a link, new password, every old session ended, notices, CAEP event, back at the service', async () => {
  const svc = await addService(app);
  const first = new UserAgent();
  const { page, citizen } = await registerThroughService(first, svc, await authorizationRequest(svc), smtp);
  await answerConsent(first, page, svc);
  const id = (
    await app.db.db
      .selectFrom('citizens')
      .select('id')
      .where('email', '=', citizen.email)
      .executeTakeFirstOrThrow()
  ).id;
  const oldSessions = await app.db.db
    .selectFrom('oidc_payloads')
    .select('id')
    .where('account_id', '=', id)
    .execute();
  assert.ok(oldSessions.length > 0);
  const oldHash = await passwordHash(id);

  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  assert.match(login.html, /Esqueci minha senha/);
  const forgot = new URL(login.html.match(/href="(\/interaction\/[^"]+\/recuperar)"/)![1]!, login.url).href;
  const { ways, codePage } = await startRecovery(ua, citizen.cpf, /e-mail/, forgot);
  assert.match(ways.html, /jo•+@example\.test/);
  assert.doesNotMatch(ways.html, new RegExp(citizen.email.replace(/\./g, '\\.')), 'the address is masked');
  assert.match(codePage.url, /\/recuperar\/codigo$/);
  assert.match(codePage.html, /autocomplete="one-time-code"/);
  assert.match(codePage.html, /15 minutos/);
  const mail = await smtp.waitFor(citizen.email, 15_000, (m) => /recuperar/i.test(m.subject));
  const code = codeFrom(mail);
  assert.match(
    mail.text,
    new RegExp(`/recuperar/codigo#codigo=${code}`),
    'the link carries the code in its fragment',
  );

  const wrong = await ua.post(formAction(codePage, '/recuperar/codigo'), {
    code: code === '000000' ? '111111' : '000000',
  });
  assert.equal(wrong.status, 422);
  assert.match(wrong.html, /Código incorreto\. Você ainda tem 4/);
  const pwPage = await ua.post(formAction(wrong, '/recuperar/codigo'), { code });
  assert.match(pwPage.url, /\/recuperar\/senha$/);

  // The CPF as a password: refused by the registration policy, nothing changed.
  const cpfPw = await ua.post(formAction(pwPage, '/recuperar/senha'), {
    password: citizen.cpf.replace(/\D/g, ''),
  });
  assert.equal(cpfPw.status, 422);
  assert.match(cpfPw.html, /não pode ser feita com seu CPF|muito comum|fácil de adivinhar/);
  const huge = await ua.post(formAction(cpfPw, '/recuperar/senha'), { password: 'x'.repeat(10_000) });
  assert.equal(huge.status, 422);
  assert.equal(await passwordHash(id), oldHash);

  const back = await ua.post(
    formAction(huge, '/recuperar/senha'),
    { password: 'jabuticaba madura no quintal 7' },
    svc.redirectUri,
  );
  assert.equal(back.status, 303, back.html.slice(0, 1500));
  assert.ok(back.url.startsWith(svc.redirectUri), 'the citizen lands back at the service');
  const tokens = await exchange(svc, auth, back.url);
  assert.equal(tokens.claims()!.sub, id);
  assert.deepEqual(tokens.claims()!.amr, ['otp']);

  const left = await app.db.db
    .selectFrom('oidc_payloads')
    .select('id')
    .where(
      'id',
      'in',
      oldSessions.map((s) => s.id),
    )
    .execute();
  assert.deepEqual(left, [], 'every old session, grant and token of the account ended');
  const notice = await smtp.waitFor(citizen.email, 15_000, (m) => /foi trocada/.test(m.subject));
  assert.match(notice.text, /\/recuperar\/nao-fui-eu#t=[\w-]{20,}/);
  const event = await app.db.db
    .selectFrom('events')
    .select(['data', 'audience'])
    .where('citizen_id', '=', id)
    .where('type', '=', 'credential.changed')
    .executeTakeFirstOrThrow();
  assert.deepEqual(event.audience, [svc.clientId]);
  assert.equal((event.data as Record<string, unknown>).reason, 'recovery');

  // The old password no longer signs in; the new one does.
  const ua2 = new UserAgent();
  const again = await ua2.get((await authorizationRequest(svc)).url.href, svc.redirectUri);
  const old = await ua2.post(
    formAction(again, '/login'),
    { identifier: citizen.cpf, password: citizen.password },
    svc.redirectUri,
  );
  assert.equal(old.status, 401);
  const fresh = await ua2.post(
    formAction(old, '/login'),
    { identifier: citizen.cpf, password: 'jabuticaba madura no quintal 7' },
    svc.redirectUri,
  );
  assert.equal(fresh.status, 303);

  // The code is spent: the same attempt is over, and the cookie's page says start again.
  const replay = await ua.get(`${app.url}/recuperar/codigo`);
  assert.equal(replay.status, 400);
  assert.match(replay.html, /Comece de novo/);
  const metrics = await (await fetch(`${app.url}/metrics`)).text();
  assert.match(metrics, /cidadela_codes_total\{channel="email",purpose="recovery",stage="sent"\} [1-9]/);
  assert.match(metrics, /cidadela_codes_total\{channel="email",purpose="recovery",stage="verified"\} [1-9]/);
  assert.doesNotMatch(
    app.logs.join('\n'),
    new RegExp(`${code}|${citizen.cpf.replace(/\D/g, '')}`),
    'no code or CPF in the logs',
  );
});

test('SMS recovery in English: origin-bound line, 5 wrong tries per code, the 6th refused even when right, a resend gives none back', async () => {
  const phone = '+5541998761234';
  const c = await citizenWithPhone(phone);
  const before = await passwordHash(c.id);
  const ua = new UserAgent({ 'accept-language': 'en' });
  const { ways, codePage } = await startRecovery(ua, c.email, /SMS/);
  assert.match(ways.html, /\+55 41 9••••-1234/);
  assert.match(codePage.html, /valid for 10 minutes/);
  const text = (await waitForSms(phone, 1)).text;
  const code = text.match(/\b(\d{6})\b/)![1]!;
  assert.match(
    text,
    new RegExp(`\\n@${new URL(app.url).host} #${code}$`),
    'the last line binds the code to the site',
  );
  const other = code === '000000' ? '111111' : '000000';
  let page: Page = codePage;
  for (let i = 1; i <= 4; i++) {
    page = await ua.post(formAction(page, '/recuperar/codigo'), { code: other });
    assert.equal(page.status, 422);
    assert.match(page.html, new RegExp(`Wrong code\\. You have ${5 - i}`));
  }
  page = await ua.post(formAction(page, '/recuperar/codigo'), { code: other });
  assert.equal(page.status, 429);
  assert.match(page.html, /Too many wrong tries/);
  const sixth = await ua.post(formAction(page, '/recuperar/codigo'), { code });
  assert.equal(sixth.status, 429, 'the right code after five wrong ones is refused');
  const resent = await ua.post(formAction(sixth, '/recuperar/codigo/reenviar'), {});
  assert.equal(resent.status, 429);
  assert.equal(sms.filter((s) => s.to === phone).length, 1, 'no new code once the tries are spent');
  assert.equal(await passwordHash(c.id), before);

  // A new attempt, a new code: the right one works.
  const fresh = new UserAgent({ 'accept-language': 'en' });
  const second = await startRecovery(fresh, c.cpf, /SMS/);
  const code2 = (await waitForSms(phone, 2)).text.match(/\b(\d{6})\b/)![1]!;
  const replayed = await fresh.post(formAction(second.codePage, '/recuperar/codigo'), {
    code: code2 === code ? other : code,
  });
  assert.equal(replayed.status, 422, 'the first attempt’s code does not open the second');
  const pw = await fresh.post(formAction(replayed, '/recuperar/codigo'), { code: code2 });
  const done = await fresh.post(formAction(pw, '/recuperar/senha'), {
    password: 'maracujá azedo de quinta-feira',
  });
  assert.equal(done.status, 200);
  assert.match(done.html, /Password changed/);
  assert.notEqual(await passwordHash(c.id), before);
  // The notice speaks the account's language (pt-BR here), not the page's: whoever reset may not be the owner.
  const notice = await waitForSms(phone, 3);
  assert.match(notice.text, /sua senha foi trocada.*\/recuperar\/nao-fui-eu#t=/s);
});

test('"this was not me" locks the account: sessions end, the password stops working, the token works once', async () => {
  const c = await seedCitizen(app.db.db);
  const ua = new UserAgent();
  const { codePage } = await startRecovery(ua, c.cpf, /e-mail/);
  const code = codeFrom(await smtp.waitFor(c.email, 15_000, (m) => /recuperar/i.test(m.subject)));
  const pw = await ua.post(formAction(codePage, '/recuperar/codigo'), { code });
  await ua.post(formAction(pw, '/recuperar/senha'), { password: 'pitanga vermelha no muro 33' });
  const notice = await smtp.waitFor(c.email, 15_000, (m) => /foi trocada/.test(m.subject));
  const token = notice.text.match(/nao-fui-eu#t=([\w-]+)/)![1]!;

  const svc = await addService(app);
  const signedIn = new UserAgent();
  const login = await signedIn.get((await authorizationRequest(svc)).url.href, svc.redirectUri);
  await signedIn.post(
    formAction(login, '/login'),
    { identifier: c.cpf, password: 'pitanga vermelha no muro 33' },
    svc.redirectUri,
  );
  assert.ok(
    (await app.db.db.selectFrom('oidc_payloads').select('id').where('account_id', '=', c.id).execute())
      .length > 0,
  );

  const owner = new UserAgent();
  const form = await owner.get(`${app.url}/recuperar/nao-fui-eu`);
  assert.match(form.html, /code-from-link\.js/);
  const locked = await owner.post(formAction(form, '/recuperar/nao-fui-eu'), { token });
  assert.equal(locked.status, 200);
  assert.match(locked.html, /Conta bloqueada/);
  assert.equal(await passwordHash(c.id), null, 'no password works until the next recovery');
  assert.deepEqual(
    await app.db.db.selectFrom('oidc_payloads').select('id').where('account_id', '=', c.id).execute(),
    [],
  );
  const row = await app.db.db
    .selectFrom('recovery_attempts')
    .select('not_me_at')
    .where('citizen_id', '=', c.id)
    .where('not_me_at', 'is not', null)
    .execute();
  assert.equal(row.length, 1, 'recorded');
  const replay = await owner.post(`${app.url}/recuperar/nao-fui-eu`, { token, _csrf: csrfOf(form.html)! });
  assert.equal(replay.status, 400);
  assert.match(replay.html, /não vale mais/);
  const fail = await new UserAgent().get((await authorizationRequest(svc)).url.href, svc.redirectUri);
  const refused = await new UserAgent().post(formAction(fail, '/login'), {
    identifier: c.cpf,
    password: 'pitanga vermelha no muro 33',
  });
  assert.notEqual(refused.status, 303);
});

/** The page less what differs by nature: CSRF tokens and the masked addresses in the options. */
const normalise = (html: string) =>
  html
    .replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf" value="TOKEN"')
    .replace(/<label for="way-(\d+)">[^<]+</g, '<label for="way-$1">WAY<')
    .replace(/(enviamos um código de 6 dígitos para )\S+(?=\. Ele)/g, '$1ADDRESS');

test('an unknown CPF gets the same pages, byte for byte less tokens and masked addresses, as a known one', async () => {
  const known = await seedCitizen(app.db.db);
  const pagesFor = async (cpf: string) => {
    const ua = new UserAgent();
    const identify = await ua.get(`${app.url}/recuperar`);
    const { ways, codePage } = await startRecovery(ua, cpf, /e-mail/);
    const wrong = await ua.post(formAction(codePage, '/recuperar/codigo'), { code: '000001' });
    const resend = await ua.post(formAction(wrong, '/recuperar/codigo/reenviar'), {});
    return [identify, ways, codePage, wrong, resend].map((p) => ({
      status: p.status,
      url: p.url.replace(app.url, ''),
      html: normalise(p.html),
    }));
  };
  const mine = await pagesFor(known.cpf);
  // Nobody's CPF shows stand-in ways drawn from it; one with the known account's set of ways (one
  // e-mail, no phone, and the typed ways everyone is offered) is what an observer could confuse with it.
  const count = (html: string) => (html.match(/name="way"/g) ?? []).length;
  let nobody: Awaited<ReturnType<typeof pagesFor>> | undefined;
  for (let i = 0; i < 30 && !nobody; i++) {
    const pages = await pagesFor(cpfFromBase(String(900_000_000 + i * 7919).slice(-9)));
    if (count(pages[1]!.html) === count(mine[1]!.html)) nobody = pages;
  }
  assert.ok(nobody, 'some unknown CPF shows one way');
  assert.deepEqual(nobody, mine);
  // Asking again for the same unknown CPF shows the same stand-ins.
  const ua = new UserAgent();
  const a = (await startRecovery(ua, '123.456.789-09', /./)).ways.html;
  const b = (await startRecovery(new UserAgent(), '12345678909', /./)).ways.html;
  assert.equal(normalise(a).replace(/WAY/g, ''), normalise(b).replace(/WAY/g, ''));
  assert.equal(a.match(/<label for="way-0">([^<]+)</)![1], b.match(/<label for="way-0">([^<]+)</)![1]);
});

test('bad input: other account’s code, expired code, a disabled account, CSRF from another session, 10,000 characters: a clear message, nothing changed', async () => {
  const x = await seedCitizen(app.db.db);
  const y = await seedCitizen(app.db.db);
  const uaX = new UserAgent();
  const uaY = new UserAgent();
  const px = await startRecovery(uaX, x.cpf, /e-mail/);
  await startRecovery(uaY, y.cpf, /e-mail/);
  const codeY = codeFrom(await smtp.waitFor(y.email, 15_000, (m) => /recuperar/i.test(m.subject)));
  const codeX = codeFrom(await smtp.waitFor(x.email, 15_000, (m) => /recuperar/i.test(m.subject)));
  if (codeX !== codeY) {
    const cross = await uaX.post(formAction(px.codePage, '/recuperar/codigo'), { code: codeY });
    assert.equal(cross.status, 422, 'another account’s code does not work');
  }
  // Expired: the clock moved past the code's life.
  await app.db.db
    .updateTable('flows')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('citizen_id', '=', x.id)
    .where('kind', '=', 'recovery')
    .execute();
  const expired = await uaX.post(formAction(px.codePage, '/recuperar/codigo'), { code: codeX });
  assert.equal(expired.status, 422);
  assert.match(expired.html, /expirou/);
  const long = await uaX.post(formAction(expired, '/recuperar/codigo'), { code: '9'.repeat(10_000) });
  assert.equal(long.status, 422);

  // CSRF from another session: Y's token on X's form.
  const forged = await uaX.post(`${app.url}/recuperar/codigo`, {
    code: codeX,
    _csrf: csrfOf(uaY.last!.html)!,
  });
  assert.equal(forged.status, 403);

  // A disabled account: the pages go on as for anyone; after the proof, it says so and changes nothing.
  const before = await passwordHash(y.id);
  assert.equal(await createAccountActions(app.db.db).disable(y.id), 'done');
  const uaD = new UserAgent();
  const pd = await startRecovery(uaD, y.cpf, /e-mail/);
  const codeD = codeFrom(
    await smtp.waitFor(y.email, 15_000, (m) => /recuperar/i.test(m.subject) && codeFrom(m) !== codeY),
  );
  const disabled = await uaD.post(formAction(pd.codePage, '/recuperar/codigo'), { code: codeD });
  assert.equal(disabled.status, 403);
  assert.match(disabled.html, /desativada/);
  assert.equal(await passwordHash(y.id), before);
  const after = await uaD.get(`${app.url}/recuperar/senha`);
  assert.equal(after.status, 400);

  // 10,000 characters as the identifier: a page, no 500.
  const big = new UserAgent();
  const start = await big.get(`${app.url}/recuperar`);
  const huge = await big.post(formAction(start, '/recuperar'), { identifier: '1'.repeat(10_000) });
  assert.ok(huge.status < 500);
  const empty = await big.post(formAction(start, '/recuperar'), { identifier: '' });
  assert.equal(empty.status, 422);
  assert.match(empty.html, /Informe o CPF/);
  const noWay = await big.post(formAction(huge, '/recuperar/opcoes'), { way: 'x'.repeat(10_000) });
  assert.equal(noWay.status, 422);
});
