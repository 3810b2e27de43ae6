import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { listAudit } from '../../src/console/audit-log.ts';
import { hashClientSecret } from '../../src/services/service-store.ts';
import { consoleSignIn, seedOperator } from '../helpers/operators.ts';
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/test-app.ts';
import { formAction, formFields, UserAgent } from '../helpers/user-agent.ts';

// The services pages (admin) from the HTTP side: create with a contract in three languages and
// terms, the secret shown once, the consent preview per language, a stale save refused, the queue.

let app: TestApp;
before(async () => {
  app = await startTestApp({ DEMO: 'off' });
});
after(async () => app?.stop());

const CONTRACT = {
  use_name: 'required',
  purpose_name_pt: 'identificar o aluno na matrícula',
  use_address: 'optional',
};

/** What a browser sends from the form: its inputs and selects (formFields) and its textareas. */
function sent(page: { html: string; url: string; status: number; headers: Headers }, part: string): Record<string, string> {
  const form = [...page.html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)].find((m) => m[1]!.includes(part))![2]!;
  const unescape = (v: string) => v.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const areas = Object.fromEntries([...form.matchAll(/<textarea[^>]*name="([^"]+)"[^>]*>([\s\S]*?)<\/textarea>/g)].map((m) => [m[1]!, unescape(m[2]!)]));
  return { ...formFields(page, part), ...areas };
}

async function admin() {
  const op = await seedOperator(app.db.db, ['admin']);
  const { ua } = await consoleSignIn(app.url, op);
  return { op, ua };
}

async function create(ua: UserAgent, clientId: string) {
  const form = await ua.get(`${app.url}/admin/servicos/novo`);
  assert.equal(form.status, 200);
  return ua.post(formAction(form, '/admin/servicos/novo'), {
    ...formFields(form, '/admin/servicos/novo'),
    name: 'Matrícula escolar',
    clientId,
    redirectUris: 'https://matricula.example/cb\nhttps://matricula.example/cb2',
    minTrustLevel: 'prata',
    use_name: 'required',
    'purpose_name_pt-BR': 'identificar o aluno na matrícula',
    purpose_name_en: 'to identify the pupil at enrolment',
    purpose_name_es: 'para identificar al alumno en la matrícula',
    use_address: 'optional',
    'purpose_address_pt-BR': 'enviar o material escolar',
    termsMarkdown: '# Termos da matrícula\n\nUsamos seus dados só para a matrícula.',
  });
}

test('an admin registers a service with a contract in three languages; the secret is shown once and works as the stored digest; audited', async () => {
  const { op, ua } = await admin();
  const created = await create(ua, 'matricula-a');
  assert.equal(created.status, 201, created.html.slice(0, 2000));
  const secret = created.html.match(/<code class="secret">([^<]+)<\/code>/)?.[1];
  assert.ok(secret);
  const row = await app.db.db.selectFrom('services').select(['client_secret_hash', 'min_trust_level']).where('client_id', '=', 'matricula-a').executeTakeFirstOrThrow();
  assert.equal(row.client_secret_hash, hashClientSecret(secret));
  assert.equal(row.min_trust_level, 'prata');
  const edit = await ua.get(`${app.url}/admin/servicos/matricula-a`);
  assert.ok(!edit.html.includes(secret), 'never shown again');
  assert.match(edit.html, /to identify the pupil at enrolment/);
  assert.deepEqual((await listAudit(app.db.db, { clientId: 'matricula-a' })).map((a) => [a.kind, a.operatorId]), [['service.created', op.id]]);

  const list = await ua.get(`${app.url}/admin/servicos`);
  assert.match(list.html, /href="\/admin\/servicos\/matricula-a"/);

  ua.last = edit;
  const rotated = await ua.post(formAction(edit, '/segredo'), {});
  const fresh = rotated.html.match(/<code class="secret">([^<]+)<\/code>/)?.[1];
  assert.ok(fresh && fresh !== secret);
  const after = await app.db.db.selectFrom('services').select('client_secret_hash').where('client_id', '=', 'matricula-a').executeTakeFirstOrThrow();
  assert.equal(after.client_secret_hash, hashClientSecret(fresh));
});

test('the consent preview is the citizen\'s screen in each language, with the purposes and the terms, inert', async () => {
  const { ua } = await admin();
  assert.equal((await create(ua, 'matricula-b')).status, 201);
  for (const [lang, purpose, optionalPurpose] of [
    ['pt-BR', 'identificar o aluno na matrícula', 'enviar o material escolar'],
    ['en', 'to identify the pupil at enrolment', 'enviar o material escolar'],
    ['es', 'para identificar al alumno en la matrícula', 'enviar o material escolar'],
  ] as const) {
    const page = await ua.get(`${app.url}/admin/servicos/matricula-b/previa?idioma=${lang}`);
    assert.equal(page.status, 200);
    assert.ok(page.html.includes(purpose), lang);
    assert.ok(page.html.includes(optionalPurpose), `${lang}: a missing translation falls back to pt-BR`);
    assert.match(page.html, /<h1>Termos da matrícula<\/h1>|Termos da matrícula/);
    assert.match(page.html, new RegExp(`<div class="preview" lang="${lang}" inert>`));
  }
});

test('two admins edit the same service: the later save is refused with a clear message and nothing is overwritten', async () => {
  const first = await admin();
  const second = await admin();
  assert.equal((await create(first.ua, 'matricula-c')).status, 201);
  const formA = await first.ua.get(`${app.url}/admin/servicos/matricula-c`);
  const formB = await second.ua.get(`${app.url}/admin/servicos/matricula-c`);
  const savedA = await first.ua.post(formAction(formA, '/admin/servicos/matricula-c'), { ...sent(formA, '/admin/servicos/matricula-c'), name: 'Matrícula (A)' });
  assert.equal(savedA.status, 200, savedA.html.match(/<div class="errors"[\s\S]*?<\/div>|class="error"[^<]*<[^>]*>[^<]*/g)?.join('\n'));
  assert.match(savedA.html, /Alterações salvas/);
  second.ua.last = formB;
  const savedB = await second.ua.post(formAction(formB, '/admin/servicos/matricula-c'), { ...sent(formB, '/admin/servicos/matricula-c'), name: 'Matrícula (B)' });
  assert.equal(savedB.status, 409);
  assert.match(savedB.html, /Outra pessoa salvou este serviço/);
  const row = await app.db.db.selectFrom('services').select('name').where('client_id', '=', 'matricula-c').executeTakeFirstOrThrow();
  assert.equal(row.name, 'Matrícula (A)');
  // A save that changed nothing else published no new terms and kept the contract.
  const terms = await app.db.db.selectFrom('service_terms').select('version').where('client_id', '=', 'matricula-c').execute();
  assert.equal(terms.length, 1);
  assert.match(savedB.html, /identificar o aluno na matrícula/);
});

test('bad input on the form: clear errors beside the fields, nothing stored', async () => {
  const { ua } = await admin();
  const form = await ua.get(`${app.url}/admin/servicos/novo`);
  const refused = await ua.post(formAction(form, '/admin/servicos/novo'), {
    ...formFields(form, '/admin/servicos/novo'),
    name: '',
    clientId: 'Bad Id!',
    redirectUris: 'http://evil.example/cb#x',
    use_name: 'required',
  });
  assert.equal(refused.status, 400);
  assert.match(refused.html, /Confira este campo/);
  assert.equal(await app.db.db.selectFrom('services').select('client_id').where('client_id', '=', 'Bad Id!').executeTakeFirst(), undefined);
});

test('the queue view, and the services pages refused to an attendant and an auditor', async () => {
  const { ua } = await admin();
  assert.equal((await create(ua, 'matricula-d')).status, 201);
  const queue = await ua.get(`${app.url}/admin/servicos/matricula-d/fila`);
  assert.equal(queue.status, 200);
  assert.match(queue.html, /Eventos pendentes/);
  const replay = await ua.post(formAction(queue, '/fila/reenviar'), { since: 'yesterday' });
  assert.equal(replay.status, 400);
  for (const role of ['attendant', 'auditor'] as const) {
    const op = await seedOperator(app.db.db, [role]);
    const other = (await consoleSignIn(app.url, op)).ua;
    for (const path of ['/admin/servicos', '/admin/servicos/novo', '/admin/servicos/matricula-d', '/admin/servicos/matricula-d/previa', '/admin/servicos/matricula-d/fila']) {
      assert.equal((await other.get(`${app.url}${path}`)).status, 403, `${role} ${path}`);
    }
    const home = await other.get(`${app.url}/admin`);
    const r = await other.post(`${app.url}/admin/servicos/matricula-d/segredo`, {});
    assert.equal(r.status, 403, `${role} rotate`);
    assert.ok(!home.html.includes('href="/admin/servicos"'));
  }
});

test('the ADMIN_TOKEN API cannot change the console\'s own service, and its changes are audited as the API', async () => {
  const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const hijack = await fetch(`${app.url}/admin/api/services/cidadela-console`, { method: 'PATCH', headers: auth, body: JSON.stringify({ redirectUris: ['https://evil.example/cb'] }) });
  assert.equal(hijack.status, 403);
  assert.equal((await hijack.json()).error, 'service.built_in');
  assert.equal((await fetch(`${app.url}/admin/api/services/cidadela-console/rotate-secret`, { method: 'POST', headers: auth, body: '{}' })).status, 403);
  const added = await fetch(`${app.url}/admin/api/services`, { method: 'POST', headers: auth, body: JSON.stringify({ clientId: 'via-api', name: 'Via API', redirectUris: ['https://api.example/cb'] }) });
  assert.equal(added.status, 201);
  assert.deepEqual((await listAudit(app.db.db, { clientId: 'via-api' })).map((a) => [a.kind, a.actor]), [['service.created', 'api']]);
});
