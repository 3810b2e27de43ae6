import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { accessMethod } from '../../src/console/usage.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, answerConsent, authorizationRequest, exchange, loginThroughService, type TestService } from '../helpers/journeys.ts';
import { consoleSignIn, seedOperator } from '../helpers/operators.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { UserAgent } from '../helpers/user-agent.ts';

// Usage reports count the test's own sign-ins (kept as daily counters by one upsert per access),
// per service and overall, as a table, a chart and a CSV; admins and auditors only.

let app: TestApp;
let svc: TestService;
before(async () => {
  app = await startTestApp({ DEMO: 'off' });
  svc = await addService(app, { fields: [{ key: 'name', required: true, purpose: 'identificar' }] });
});
after(async () => app?.stop());

const month = () => new Date(Date.now() - 3 * 3600_000).toISOString().slice(0, 7);
const today = () => new Date(Date.now() - 3 * 3600_000).toISOString().slice(0, 10);

async function signInAt(citizen: { cpf: string; password: string }) {
  const ua = new UserAgent();
  const auth = await authorizationRequest(svc);
  let page = await loginThroughService(ua, svc, auth, citizen.cpf, citizen.password);
  if (page.html.includes('name="decision"')) page = await answerConsent(ua, page, svc);
  await exchange(svc, auth, page.url);
}

/** The counters are written after the response: wait until the count is there. */
async function counted(clientId: string, metric: string, n: number) {
  for (;;) {
    const row = await app.db.db.selectFrom('usage_daily').select('n').where('client_id', '=', clientId).where('metric', '=', metric).executeTakeFirst();
    if (Number(row?.n ?? 0) >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('how an access is classified: password, certificate, a code, or SSO when the session is older than five minutes', () => {
  const now = 1_000_000;
  assert.equal(accessMethod(['pwd'], now - 10, now), 'password');
  assert.equal(accessMethod(['pwd', 'hwk', 'mfa'], now - 10, now), 'certificate');
  assert.equal(accessMethod(['sms'], now - 10, now), 'code');
  assert.equal(accessMethod(['pwd'], now - 301, now), 'sso');
});

test('two sign-ins of one citizen and one of another show in the month\'s report: per service, overall, chart and CSV', async () => {
  const a = await seedCitizen(app.db.db);
  const b = await seedCitizen(app.db.db);
  await signInAt(a);
  await signInAt(a);
  await signInAt(b);
  await counted(svc.clientId, 'signin_password', 3);
  await counted(svc.clientId, 'unique_citizens', 2);

  const op = await seedOperator(app.db.db, ['auditor']);
  const { ua } = await consoleSignIn(app.url, op);
  const report = await ua.get(`${app.url}/admin/relatorios?servico=${svc.clientId}&mes=${month()}`);
  assert.equal(report.status, 200);
  const row = report.html.match(new RegExp(`<tr><th scope="row">${today()}</th>((?:<td>\\d+</td>)+)</tr>`))?.[1];
  assert.ok(row, report.html.slice(0, 3000));
  const cells = [...row.matchAll(/<td>(\d+)<\/td>/g)].map((m) => Number(m[1]));
  // password, certificate, code, sso, unique citizens, registrations (not per service)
  assert.deepEqual(cells, [3, 0, 0, 0, 2, 0]);
  assert.match(report.html, /<svg class="chart"[^>]*role="img"[^>]*aria-label="Acessos por dia: 3 no mês/);

  const overall = await ua.get(`${app.url}/admin/relatorios?mes=${month()}`);
  assert.match(overall.html, /Contas ativas por nível/);
  const csv = await ua.request(`${app.url}/admin/relatorios.csv?servico=${svc.clientId}&mes=${month()}`);
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
  const text = await csv.text();
  assert.equal(text.split('\n')[0], 'day,signin_password,signin_certificate,signin_code,signin_sso,unique_citizens,registrations');
  assert.ok(text.includes(`${today()},3,0,0,0,2,0`), text);
});

test('bad input and roles: a month that is not one, an unknown service; an attendant is refused', async () => {
  const op = await seedOperator(app.db.db, ['admin']);
  const { ua } = await consoleSignIn(app.url, op);
  const bad = await ua.get(`${app.url}/admin/relatorios?mes=2026-13`);
  assert.equal(bad.status, 400);
  assert.match(bad.html, /Escolha o mês como AAAA-MM/);
  assert.equal((await ua.get(`${app.url}/admin/relatorios?servico=nope&mes=${month()}`)).status, 400);
  assert.equal((await ua.get(`${app.url}/admin/relatorios.csv?mes=x`)).status, 400);
  const attendant = await seedOperator(app.db.db, ['attendant']);
  const other = (await consoleSignIn(app.url, attendant)).ua;
  assert.equal((await other.get(`${app.url}/admin/relatorios`)).status, 403);
  assert.equal((await other.get(`${app.url}/admin/relatorios.csv`)).status, 403);
});
