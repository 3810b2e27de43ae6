import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { cpfFromBase } from '../../src/identity/cpf.ts';
import { createTrustLevels } from '../../src/identity/trust-levels.ts';
import { consumeRecoveryCode } from '../../src/methods/recovery-codes/recovery-codes.ts';
import { createAccountActions } from '../../src/personal-data.ts';
import { createSecrets } from '../../src/security/secrets.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, authorizationRequest, exchange, UserAgent } from '../helpers/journeys.ts';
import { startTestApp, TEST_SECRET, type TestApp } from '../helpers/test-app.ts';
import { csrfOf, formAction, formFields, type Page } from '../helpers/user-agent.ts';

/*
 * The two ways typed on the recovery pages (decision 22): the secret question with the record's
 * birth date and mother's name, and saved recovery codes; their settings on /conta/recuperacao.
 */
let app: TestApp;
before(async () => {
  app = await startTestApp();
});
after(async () => {
  await app?.stop();
});

const MOTHER = 'Maria José da Conceição';

/** A confirmed citizen whose record has a birth date and a mother's name. */
async function citizen() {
  const c = await seedCitizen(app.db.db);
  await app.db.db
    .updateTable('citizens')
    .set({ profile: JSON.stringify({ mother_name: MOTHER }) })
    .where('id', '=', c.id)
    .execute();
  return c;
}

/** Signed in on /conta through the provider, as the citizen's browser would be. */
async function signedIn(c: { cpf: string; password: string }, headers: Record<string, string> = {}) {
  const ua = new UserAgent(headers);
  const login = await ua.get(`${app.url}/conta`);
  const home = await ua.post(formAction(login, '/login'), { identifier: c.cpf, password: c.password });
  assert.equal(home.status, 200, home.html.slice(0, 1500));
  assert.match(home.url, /\/conta$/);
  return ua;
}

async function setQuestion(ua: UserAgent, fields: Record<string, string>) {
  const page = await ua.get(`${app.url}/conta/recuperacao`);
  return ua.post(formAction(page, '/conta/recuperacao/pergunta'), fields);
}

async function generateCodes(ua: UserAgent) {
  const page = await ua.get(`${app.url}/conta/recuperacao`);
  const shown = await ua.post(formAction(page, '/conta/recuperacao/codigos'), {});
  assert.equal(shown.status, 200, shown.html.slice(0, 1500));
  assert.equal(shown.headers.get('cache-control'), 'no-store');
  const codes = [...shown.html.matchAll(/<li><code>([0-9A-Z-]+)<\/code><\/li>/g)].map((m) => m[1]!);
  return { shown, codes };
}

/** Through the identifier and ways pages to the page of the way whose option matches `way`. */
async function startWay(ua: UserAgent, identifier: string, way: RegExp, from = `${app.url}/recuperar`) {
  const start = await ua.get(from);
  const ways = await ua.post(formAction(start, '/recuperar'), {
    ...formFields(start, '/recuperar'),
    identifier,
  });
  const value = [
    ...ways.html.matchAll(
      /<input type="radio" id="way-\d+" name="way" value="([^"]+)"[^>]*><label for="way-\d+">([^<]+)</g,
    ),
  ].find((m) => way.test(m[2]!))?.[1];
  assert.ok(value, `an option matching ${way} on\n${ways.html}`);
  const page = await ua.post(formAction(ways, '/recuperar/opcoes'), { way: value });
  return { ways, page };
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

test('secret question: set on /conta, answered with other case, accents and spaces, with birth date and mother’s name; the account drops to bronze and /conta says so; back at the service', async () => {
  const c = await citizen();
  await createTrustLevels(app.db.db).setLevel(app.db.db, c.id, 'prata', 'attendant');
  const ua = await signedIn(c);
  const saved = await setQuestion(ua, { question: 'childhood_street', answer: 'Rua São  João Batista' });
  assert.match(saved.url, /salvo=pergunta/);
  assert.match(saved.html, /Pergunta secreta salva/);
  assert.match(saved.html, /Em que rua você morava quando criança\?/);
  const stored = await app.db.db
    .selectFrom('credentials')
    .select(['secret', 'data'])
    .where('citizen_id', '=', c.id)
    .where('type', '=', 'secret_question')
    .executeTakeFirstOrThrow();
  assert.match(stored.secret!, /^\$argon2id\$/, 'the answer is kept as an argon2id hash');
  assert.doesNotMatch(JSON.stringify(stored), /jo[aã]o/i);

  const svc = await addService(app);
  const other = new UserAgent({ 'accept-language': 'es' });
  const auth = await authorizationRequest(svc);
  const login = await other.get(auth.url.href, svc.redirectUri);
  const forgot = new URL(login.html.match(/href="(\/interaction\/[^"]+\/recuperar)"/)![1]!, login.url).href;
  const { page } = await startWay(other, c.cpf, /pregunta secreta/, forgot);
  assert.match(page.url, /\/recuperar\/pergunta$/);
  assert.match(page.html, /¿En qué calle vivía de niño\?/);
  const proven = await other.post(formAction(page, '/recuperar/pergunta'), {
    answer: '  RUA SAO JOÃO   batista ',
    birthdate: '21/03/1988',
    mother_name: 'maria jose da conceicao',
  });
  assert.match(proven.url, /\/recuperar\/senha$/, proven.html.slice(0, 2000));
  const back = await other.post(
    formAction(proven, '/recuperar/senha'),
    { password: 'carambola na varanda de abril 9' },
    svc.redirectUri,
  );
  // A service the citizen never used asks consent first.
  const done =
    back.status === 303
      ? back
      : await other.post(formAction(back, '/consent'), { decision: 'accept' }, svc.redirectUri);
  assert.ok(done.url.startsWith(svc.redirectUri), 'back at the service');
  const tokens = await exchange(svc, auth, done.url);
  assert.deepEqual(tokens.claims()!.amr, ['kba']);
  assert.equal(tokens.claims()!.acr, 'bronze');
  const level = await app.db.db
    .selectFrom('citizens')
    .select('trust_level')
    .where('id', '=', c.id)
    .executeTakeFirstOrThrow();
  assert.equal(level.trust_level, 'bronze', 'knowledge alone drops the account to bronze');
  const history = await createTrustLevels(app.db.db).history(c.id);
  assert.equal(history.at(-1)!.reason, 'secret_question_recovery');

  const again = await signedIn({ cpf: c.cpf, password: 'carambola na varanda de abril 9' });
  const home = await again.get(`${app.url}/conta`);
  assert.match(
    home.html,
    /recuperada com a pergunta secreta em .*fica no nível bronze até uma prova mais forte/s,
  );
  // A stronger proof later (a certificate, an attendant) takes the notice away.
  await createTrustLevels(app.db.db).setLevel(app.db.db, c.id, 'ouro', 'certificate');
  assert.doesNotMatch((await again.get(`${app.url}/conta`)).html, /recuperada com a pergunta secreta/);
});

test('secret question: the answer without the record’s birth date and mother’s name does not count; the 4th answer in 24 h is refused even when right; nobody’s identifier is counted alike', async () => {
  const c = await citizen();
  const ua = await signedIn(c);
  await setQuestion(ua, { question: 'first_pet', answer: 'Totó' });
  const before = await passwordHash(c.id);
  const r = new UserAgent();
  let { page } = await startWay(r, c.cpf, /pergunta secreta/);
  const tries: [Record<string, string>, RegExp][] = [
    [{ answer: 'toto', birthdate: '1988-03-21', mother_name: 'Outra Pessoa' }, /ainda tem 2 tentativa/],
    [{ answer: 'rex', birthdate: '1988-03-21', mother_name: MOTHER }, /ainda tem 1 tentativa/],
    [{ answer: 'toto', birthdate: '1990-01-01', mother_name: MOTHER }, /Não restam tentativas hoje/],
  ];
  for (const [fields, message] of tries) {
    page = await r.post(formAction(page, '/recuperar/pergunta'), fields);
    assert.equal(page.status, 422);
    assert.match(page.html, message);
  }
  const fourth = await r.post(formAction(page, '/recuperar/pergunta'), {
    answer: 'TOTÓ',
    birthdate: '1988-03-21',
    mother_name: MOTHER,
  });
  assert.equal(fourth.status, 429, 'the right answer after three is refused for the day');
  assert.match(fourth.html, /Respostas demais para esta conta hoje/);
  // A new attempt from another browser does not reset the account's count.
  const fresh = new UserAgent();
  const again = await startWay(fresh, c.email, /pergunta secreta/);
  const fifth = await fresh.post(formAction(again.page, '/recuperar/pergunta'), {
    answer: 'toto',
    birthdate: '1988-03-21',
    mother_name: MOTHER,
  });
  assert.equal(fifth.status, 429);
  assert.equal(await passwordHash(c.id), before, 'nothing changed');

  // Empty and 10,000-character fields: a message, not a count, not a 500.
  const n = new UserAgent();
  const q = await startWay(n, cpfFromBase('911222333'), /pergunta secreta/);
  const empty = await n.post(formAction(q.page, '/recuperar/pergunta'), {
    answer: '',
    birthdate: '',
    mother_name: '',
  });
  assert.equal(empty.status, 422);
  assert.match(empty.html, /Preencha a resposta, a data de nascimento e o nome da mãe/);
  const long = await n.post(formAction(empty, '/recuperar/pergunta'), {
    answer: 'a'.repeat(10_000),
    birthdate: '9'.repeat(10_000),
    mother_name: 'b'.repeat(10_000),
  });
  assert.equal(long.status, 422);
  assert.match(long.html, /ainda tem 2 tentativa/);
});

test('saved recovery codes: ten shown once on /conta, each works once, the page says how many are left; new ones void the old; other accounts’ and malformed codes refused', async () => {
  const c = await citizen();
  const ua = await signedIn(c, { 'accept-language': 'en' });
  const { shown, codes } = await generateCodes(ua);
  assert.equal(codes.length, 10);
  assert.equal(new Set(codes).size, 10);
  for (const code of codes)
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/, '16 base32 characters: 80 bits');
  assert.match(shown.html, /print-page\.js/);
  const stored = JSON.stringify(
    await app.db.db
      .selectFrom('credentials')
      .selectAll()
      .where('citizen_id', '=', c.id)
      .where('type', '=', 'recovery_codes')
      .executeTakeFirstOrThrow(),
  );
  for (const code of codes)
    assert.ok(!stored.includes(code) && !stored.includes(code.replace(/-/g, '')), 'stored as digests only');
  const settings = await ua.get(`${app.url}/conta/recuperacao`);
  assert.match(settings.html, /10 of 10 codes left/);
  assert.doesNotMatch(settings.html, new RegExp(codes[0]!), 'never shown again');

  // Recovery with one, typed in lower case with spaces: accepted, 9 left.
  const r = new UserAgent({ 'accept-language': 'en' });
  const { page } = await startWay(r, c.cpf, /saved recovery codes/);
  assert.match(page.url, /\/recuperar\/codigo-salvo$/);
  const proven = await r.post(formAction(page, '/recuperar/codigo-salvo'), {
    code: codes[3]!.toLowerCase().replace(/-/g, ' '),
  });
  assert.match(proven.url, /\/recuperar\/senha$/, proven.html.slice(0, 1500));
  assert.match(proven.html, /Code accepted\. 9 recovery code\(s\) left\./);
  const done = await r.post(formAction(proven, '/recuperar/senha'), {
    password: 'abacate maduro na fruteira 12',
  });
  assert.match(done.html, /Password changed/);
  const level = await app.db.db
    .selectFrom('citizens')
    .select('trust_level')
    .where('id', '=', c.id)
    .executeTakeFirstOrThrow();
  assert.equal(level.trust_level, 'bronze');

  // The same code again: refused, nothing changed.
  const before = await passwordHash(c.id);
  const replay = new UserAgent({ 'accept-language': 'en' });
  const rp = await startWay(replay, c.cpf, /saved recovery codes/);
  const replayed = await replay.post(formAction(rp.page, '/recuperar/codigo-salvo'), { code: codes[3]! });
  assert.equal(replayed.status, 422);
  assert.match(replayed.html, /This code does not work: it is wrong, already used or replaced/);
  // Another account's code does not open this one.
  const d = await citizen();
  const theirs = (await generateCodes(await signedIn(d))).codes;
  const cross = await replay.post(formAction(replayed, '/recuperar/codigo-salvo'), { code: theirs[0]! });
  assert.equal(cross.status, 422);
  const long = await replay.post(formAction(cross, '/recuperar/codigo-salvo'), { code: 'Z'.repeat(10_000) });
  assert.equal(long.status, 422);
  assert.equal(await passwordHash(c.id), before);
  assert.equal(
    (await consumeRecoveryCode(app.db.db, createSecrets(TEST_SECRET), d.id, theirs[0]!)).ok,
    true,
    'their code was not spent by the tries',
  );

  // New codes void the old ones.
  const ua2 = await signedIn({ cpf: c.cpf, password: 'abacate maduro na fruteira 12' });
  const renewed = (await generateCodes(ua2)).codes;
  const secrets = createSecrets(TEST_SECRET);
  assert.deepEqual(await consumeRecoveryCode(app.db.db, secrets, c.id, codes[5]!), { ok: false });
  assert.deepEqual(await consumeRecoveryCode(app.db.db, secrets, c.id, renewed[5]!), { ok: true, left: 9 });
});

test('the typed ways with a CSRF token from another session: refused, not counted, nothing changed', async () => {
  const c = await citizen();
  const ua = await signedIn(c);
  await setQuestion(ua, { question: 'first_pet', answer: 'rex' });
  const { codes } = await generateCodes(ua);
  const mine = new UserAgent();
  const q = await startWay(mine, c.cpf, /pergunta secreta/);
  const theirs = new UserAgent();
  const other = await startWay(theirs, cpfFromBase('944555666'), /pergunta secreta/);
  const forged = await mine.post(`${app.url}/recuperar/pergunta`, {
    _csrf: csrfOf(other.page.html)!,
    answer: 'rex',
    birthdate: '1988-03-21',
    mother_name: MOTHER,
  });
  assert.equal(forged.status, 403);
  assert.match(forged.html, /<html lang="pt-BR"/);
  const s = await startWay(mine, c.cpf, /códigos de recuperação/);
  const forgedCode = await mine.post(`${app.url}/recuperar/codigo-salvo`, {
    _csrf: csrfOf(other.page.html)!,
    code: codes[0]!,
  });
  assert.equal(forgedCode.status, 403);
  // Nothing spent, nothing counted: the code still works and all three answers are left.
  const wrong = await mine.post(formAction(s.page, '/recuperar/codigo-salvo'), {
    _csrf: csrfOf(s.page.html)!,
    code: 'AAAA-BBBB-CCCC-DDDD',
  });
  assert.equal(wrong.status, 422);
  const back = await startWay(mine, c.cpf, /pergunta secreta/);
  const first = await mine.post(formAction(back.page, '/recuperar/pergunta'), {
    answer: 'gato',
    birthdate: '1988-03-21',
    mother_name: MOTHER,
  });
  assert.match(first.html, /ainda tem 2 tentativa/);
  void q;
  assert.equal((await consumeRecoveryCode(app.db.db, createSecrets(TEST_SECRET), c.id, codes[0]!)).ok, true);
});

test('a saved code used twice at once works once', async () => {
  const c = await citizen();
  const { codes } = await generateCodes(await signedIn(c));
  const secrets = createSecrets(TEST_SECRET);
  const results = await Promise.all(
    [1, 2, 3].map(() => consumeRecoveryCode(app.db.db, secrets, c.id, codes[0]!)),
  );
  assert.equal(results.filter((r) => r.ok).length, 1);
  assert.equal(results.filter((r) => !r.ok).length, 2);
});

/** The page less what differs by nature: CSRF tokens, masked addresses, and a stand-in question. */
const normalise = (html: string) =>
  html
    .replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf" value="TOKEN"')
    .replace(/<label for="way-(\d+)">[^<]+</g, '<label for="way-$1">WAY<')
    .replace(
      /<p class="question" id="question"><strong>[^<]+</g,
      '<p class="question" id="question"><strong>QUESTION<',
    );

test('the secret question and saved code pages are the same, byte for byte less tokens, for nobody’s CPF and an account’s', async () => {
  const known = await citizen();
  await setQuestion(await signedIn(known), { question: 'first_school', answer: 'Escola Estadual' });
  const pagesFor = async (cpf: string) => {
    const out: Page[] = [];
    for (const way of [/pergunta secreta/, /códigos de recuperação/]) {
      const ua = new UserAgent();
      const { page } = await startWay(ua, cpf, way);
      const action = page.url.endsWith('/pergunta') ? '/recuperar/pergunta' : '/recuperar/codigo-salvo';
      const fields: Record<string, string> = action.endsWith('pergunta')
        ? { answer: 'errada', birthdate: '2000-01-01', mother_name: 'Ninguém' }
        : { code: 'AAAA-BBBB-CCCC-DDDD' };
      const wrong = await ua.post(formAction(page, action), fields);
      out.push(page, wrong);
    }
    return out.map((p) => ({ status: p.status, url: p.url.replace(app.url, ''), html: normalise(p.html) }));
  };
  const mine = await pagesFor(known.cpf);
  const nobody = await pagesFor(cpfFromBase('955444333'));
  assert.deepEqual(nobody, mine);
  // A stand-in question is the same every time for the same identifier.
  const q = async () =>
    (
      await startWay(new UserAgent(), '955.444.333-' + cpfFromBase('955444333').slice(-2), /pergunta secreta/)
    ).page.html.match(/id="question"><strong>([^<]+)</)![1];
  assert.equal(await q(), await q());
});

test('RECOVERY_SECRET_QUESTION=off: no question among the ways nor on /conta, its page starts again', async () => {
  const off = await startTestApp({ RECOVERY_SECRET_QUESTION: 'off' });
  try {
    const ua = new UserAgent();
    const start = await ua.get(`${off.url}/recuperar`);
    const ways = await ua.post(formAction(start, '/recuperar'), { identifier: cpfFromBase('933111222') });
    assert.doesNotMatch(ways.html, /pergunta secreta/);
    assert.match(ways.html, /códigos de recuperação salvos/);
    const direct = await ua.post(formAction(ways, '/recuperar/opcoes'), { way: 'secret_question' });
    assert.equal(direct.status, 422, 'not a way here');
    const page = await ua.get(`${off.url}/recuperar/pergunta`);
    assert.equal(page.status, 400);
  } finally {
    await off.stop();
  }
});

test('/conta/recuperacao bad input: CSRF from another session, 10,000 characters, no mother’s name on record, an old sign-in without the password: a clear message, nothing changed', async () => {
  const c = await citizen();
  const ua = await signedIn(c);
  const other = await signedIn(await citizen());
  const foreign = csrfOf((await other.get(`${app.url}/conta/recuperacao`)).html)!;
  const forged = await ua.post(`${app.url}/conta/recuperacao/codigos`, { _csrf: foreign });
  assert.equal(forged.status, 403);
  const forgedQ = await ua.post(`${app.url}/conta/recuperacao/pergunta`, {
    _csrf: foreign,
    question: 'first_pet',
    answer: 'rex',
  });
  assert.equal(forgedQ.status, 403);
  const none = await app.db.db
    .selectFrom('credentials')
    .select('type')
    .where('citizen_id', '=', c.id)
    .where('type', 'in', ['recovery_codes', 'secret_question'])
    .execute();
  assert.deepEqual(none, []);

  const long = await setQuestion(ua, {
    question: 'custom',
    custom: 'q'.repeat(10_000),
    answer: 'a'.repeat(10_000),
  });
  assert.equal(long.status, 422);
  assert.match(long.html, /A pergunta pode ter até 200 caracteres/);
  const longAnswer = await setQuestion(ua, { question: 'first_pet', answer: 'a'.repeat(10_000) });
  assert.match(longAnswer.html, /A resposta pode ter até 200 caracteres/);
  const badQuestion = await setQuestion(ua, { question: 'x'.repeat(10_000), answer: 'rex' });
  assert.match(badQuestion.html, /Escolha uma pergunta da lista/);
  const short = await setQuestion(ua, { question: 'first_pet', answer: ' a ' });
  assert.match(short.html, /pelo menos 3 caracteres/);
  const mother = await setQuestion(ua, { question: 'first_pet', answer: 'MARIA JOSE DA CONCEIÇÃO' });
  assert.match(mother.html, /não pode ser o nome da mãe/);

  const bare = await seedCitizen(app.db.db);
  const noRecord = await setQuestion(await signedIn(bare), { question: 'first_pet', answer: 'rex' });
  assert.equal(noRecord.status, 422);
  assert.match(noRecord.html, /precisa ter a data de nascimento e o nome da mãe/);

  // A sign-in older than ten minutes: the password again.
  const stale = await signedIn(c);
  await app.db.db
    .updateTable('oidc_payloads')
    .set({ payload: sql`jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600))` })
    .where('model', '=', 'Session')
    .where(sql<string>`payload->>'accountId'`, '=', c.id)
    .execute();
  const askPage = await stale.get(`${app.url}/conta/recuperacao`);
  assert.match(askPage.html, /name="password-codes"/);
  const wrong = await stale.post(formAction(askPage, '/conta/recuperacao/codigos'), {
    'password-codes': 'not the password',
  });
  assert.equal(wrong.status, 401);
  assert.deepEqual(
    await app.db.db
      .selectFrom('credentials')
      .select('type')
      .where('citizen_id', '=', c.id)
      .where('type', '=', 'recovery_codes')
      .execute(),
    [],
  );
  const right = await stale.post(formAction(wrong, '/conta/recuperacao/codigos'), {
    'password-codes': c.password,
  });
  assert.equal(right.status, 200);
  assert.equal([...right.html.matchAll(/<li><code>/g)].length, 10);
});

test('deleting the account erases its secret question and recovery codes', async () => {
  const c = await citizen();
  const ua = await signedIn(c);
  await setQuestion(ua, { question: 'first_pet', answer: 'rex' });
  await generateCodes(ua);
  assert.equal(
    (await app.db.db.selectFrom('credentials').select('id').where('citizen_id', '=', c.id).execute()).length,
    3,
  );
  assert.equal(await createAccountActions(app.db.db).purge(c.id), 'done');
  assert.deepEqual(
    await app.db.db.selectFrom('credentials').select('id').where('citizen_id', '=', c.id).execute(),
    [],
  );
});
