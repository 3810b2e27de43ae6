import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listAudit } from '../../src/console/audit-log.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, answerConsent, authorizationRequest, exchange, loginThroughService, type TestService } from '../helpers/journeys.ts';
import { consoleSignIn, seedOperator } from '../helpers/operators.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction, UserAgent } from '../helpers/user-agent.ts';

// The support desk from the HTTP side: exact search only, a reason every time, the in-person
// verification that the citizen's next ID token shows, its withdrawal, disable and enable.

let app: TestApp;
let svc: TestService;
before(async () => {
  app = await startTestApp({ DEMO: 'off' });
  svc = await addService(app, { fields: [{ key: 'name', required: true, purpose: 'identificar' }, { key: 'cpf', required: true, purpose: 'identificar' }] });
});
after(async () => app?.stop());

async function attendant() {
  const op = await seedOperator(app.db.db, ['attendant']);
  const { ua } = await consoleSignIn(app.url, op);
  const desk = await ua.get(`${app.url}/admin/atendimento`);
  assert.equal(desk.status, 200);
  return { op, ua, desk };
}

async function signInAt(citizen: { cpf: string; password: string }) {
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  let page = await loginThroughService(ua, svc, auth, citizen.cpf, citizen.password);
  if (page.html.includes('name="decision"')) page = await answerConsent(ua, page, svc);
  return (await exchange(svc, auth, page.url)).claims()!;
}

test('a partial CPF, a malformed e-mail, a number without country, no reason or a 10,000-character reason: a clear error, no search, nothing audited', async () => {
  const { op, ua } = await attendant();
  const target = await seedCitizen(app.db.db);
  const cases: [Record<string, string>, RegExp][] = [
    [{ by: 'cpf', value: target.cpf.slice(0, 7), reason: 'citizen at the counter' }, /Escreva o CPF completo, com os 11 dígitos/],
    [{ by: 'cpf', value: '%', reason: 'citizen at the counter' }, /Escreva o CPF completo/],
    [{ by: 'email', value: target.email.split('@')[0]!, reason: 'citizen at the counter' }, /Escreva o e-mail completo/],
    [{ by: 'phone', value: '41999999999', reason: 'citizen at the counter' }, /com \+ e o código do país/],
    [{ by: 'cpf', value: target.cpf, reason: '' }, /Escreva o motivo/],
    [{ by: 'cpf', value: target.cpf, reason: 'x'.repeat(10_000) }, /O motivo passa de 500 caracteres/],
    [{ by: 'everyone', value: '*', reason: 'citizen at the counter' }, /Escolha por qual dado buscar/],
  ];
  for (const [fields, message] of cases) {
    await ua.get(`${app.url}/admin/atendimento`);
    const page = await ua.post(`${app.url}/admin/atendimento/busca`, fields);
    assert.equal(page.status, 400, JSON.stringify(fields).slice(0, 80));
    assert.match(page.html, message);
  }
  assert.equal((await listAudit(app.db.db, { operatorId: op.id })).length, 0);
});

test('an exact search finds one account and is audited with its reason; a miss is audited too; an id alone does not open an account', async () => {
  const { op, ua } = await attendant();
  const target = await seedCitizen(app.db.db);
  const found = await ua.post(`${app.url}/admin/atendimento/busca`, { by: 'email', value: target.email.toUpperCase(), reason: 'citizen at counter 3' });
  assert.equal(found.status, 200);
  assert.match(found.url, new RegExp(`/admin/atendimento/contas/${target.id}$`));
  assert.ok(found.html.includes(target.email));
  assert.doesNotMatch(found.url, /@|\d{11}/, 'no identifier in the address');
  await ua.get(`${app.url}/admin/atendimento`);
  const miss = await ua.post(`${app.url}/admin/atendimento/busca`, { by: 'cpf', value: '111.444.777-35', reason: 'citizen at counter 3' });
  assert.equal(miss.status, 404);
  assert.match(miss.html, /Nenhuma conta tem este dado/);
  const audit = await listAudit(app.db.db, { operatorId: op.id });
  assert.deepEqual(audit.map((a) => [a.kind, a.citizenId, a.reason, a.detail.by, a.detail.found]), [
    ['support.search', null, 'citizen at counter 3', 'cpf', false],
    ['support.search', target.id, 'citizen at counter 3', 'email', true],
  ]);
  assert.ok(!JSON.stringify(audit).includes(target.email), 'the typed value is not kept');

  // Another attendant who never searched for this account cannot open it by its id.
  const other = await attendant();
  const direct = await other.ua.get(`${app.url}/admin/atendimento/contas/${target.id}`);
  assert.equal(direct.status, 403);
  assert.ok(!direct.html.includes(target.email));
});

test('in-person verification raises the account to prata and the next ID token says so; withdrawing it brings bronze back; each audited', async () => {
  const { op, ua } = await attendant();
  const target = await seedCitizen(app.db.db);
  assert.equal((await signInAt(target)).acr, 'bronze');

  const account = await ua.post(`${app.url}/admin/atendimento/busca`, { by: 'cpf', value: target.cpf, reason: 'document check at counter' });
  const bad = await ua.post(formAction(account, '/presencial'), { documentType: 'rg', documentNumber: '<script>', counter: '' });
  assert.equal(bad.status, 400);
  assert.match(bad.html, /Escreva o número do documento/);
  assert.match(bad.html, /Escreva o balcão/);
  assert.equal((await signInAt(target)).acr, 'bronze', 'nothing changed');

  // The citizen's own sign-ins (their security record) show at the desk.
  assert.match(bad.html, /Entradas e eventos de segurança recentes<\/h2>\s*<ul class="data-list"><li/);
  const verified = await ua.post(formAction(bad, '/presencial'), { documentType: 'cnh', documentNumber: '01234567890', counter: 'Rua da Cidadania Matriz' });
  assert.equal(verified.status, 200);
  assert.match(verified.html, /Confirmação registrada/);
  const claims = await signInAt(target);
  assert.equal(claims.acr, 'prata');
  const vc = claims.verified_claims as { verification: { trust_framework: string; evidence: { type: string; document_details: { type: string } }[] }; claims: Record<string, unknown> };
  assert.equal(vc.verification.trust_framework, 'cidadela_presencial');
  assert.equal(vc.verification.evidence[0]!.type, 'document');
  assert.equal(vc.verification.evidence[0]!.document_details.type, 'cnh');
  assert.ok(!JSON.stringify(claims).includes('01234567890'), 'the document number stays with the city');
  assert.deepEqual(Object.keys(vc.claims).sort(), ['cpf', 'name']);

  const lowered = await ua.post(formAction(verified, '/rebaixar'), { reason: 'document was not the holder’s' });
  assert.equal(lowered.status, 200);
  assert.match(lowered.html, /A conta voltou ao nível bronze/);
  const after = await signInAt(target);
  assert.equal(after.acr, 'bronze');
  assert.equal(after.verified_claims, undefined);
  const kinds = (await listAudit(app.db.db, { citizenId: target.id })).map((a) => [a.kind, a.operatorId]);
  assert.deepEqual(kinds, [
    ['support.level_lowered', op.id],
    ['support.in_person_verified', op.id],
    ['support.search', op.id],
  ]);
});

test('disable and enable with a reason: the citizen cannot sign in while disabled; a 10,000-character reason changes nothing', async () => {
  const { op, ua } = await attendant();
  const target = await seedCitizen(app.db.db);
  const account = await ua.post(`${app.url}/admin/atendimento/busca`, { by: 'cpf', value: target.cpf, reason: 'citizen asked to block' });
  const tooLong = await ua.post(formAction(account, '/desativar'), { reason: 'y'.repeat(10_000) });
  assert.equal(tooLong.status, 400);
  assert.match(tooLong.html, /O motivo passa de 500 caracteres/);
  assert.equal((await signInAt(target)).sub, target.id, 'still active');
  const disabled = await ua.post(formAction(tooLong, '/desativar'), { reason: 'citizen reported a stolen phone' });
  assert.match(disabled.html, /Conta desativada/);
  const login = await loginThroughService(new UserAgent(), svc, await authorizationRequest(svc), target.cpf, target.password);
  assert.doesNotMatch(login.url, /code=/);
  const enabled = await ua.post(formAction(disabled, '/ativar'), { reason: 'citizen came back with documents' });
  assert.match(enabled.html, /Conta reativada/);
  assert.equal((await signInAt(target)).sub, target.id);
  assert.deepEqual(
    (await listAudit(app.db.db, { citizenId: target.id, operatorId: op.id })).map((a) => [a.kind, a.reason]),
    [
      ['account.enabled', 'citizen came back with documents'],
      ['account.disabled', 'citizen reported a stolen phone'],
      ['support.search', 'citizen asked to block'],
    ],
  );
});
