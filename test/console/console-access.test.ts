import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../src/console/audit-log.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { consoleSignIn, seedOperator } from '../helpers/operators.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { csrfOf, UserAgent } from '../helpers/user-agent.ts';
import { sql } from 'kysely';

/**
 * Who may open which console page, from the HTTP side: every route, for a citizen, each role, no
 * session, an expired sign-in, a sign-in below the level; CSRF on every form.
 */
const GETS = ['/admin', '/admin/atendimento', '/admin/auditoria', '/admin/auditoria.jsonl', '/admin/servicos', '/admin/servicos/novo'];
const POSTS = ['/admin/servicos/novo', '/admin/servicos/x', '/admin/servicos/x/segredo', '/admin/servicos/x/fila/retomar', '/admin/servicos/x/fila/reenviar', '/admin/atendimento/busca', '/admin/atendimento/contas/x/desativar', '/admin/atendimento/contas/x/ativar', '/admin/atendimento/contas/x/presencial', '/admin/atendimento/contas/x/rebaixar'];
const ROLE_OF: Record<string, string[]> = {
  '/admin': ['admin', 'attendant', 'auditor'],
  '/admin/atendimento': ['attendant'],
  '/admin/auditoria': ['auditor'],
  '/admin/auditoria.jsonl': ['auditor'],
  '/admin/servicos': ['admin'],
  '/admin/servicos/novo': ['admin'],
};

let app: TestApp;
before(async () => {
  app = await startTestApp({ DEMO: 'off' });
});
after(async () => app?.stop());

const isSignIn = (location: string | null) => Boolean(location && /\/oidc\/auth\?/.test(location) && /max_age=900/.test(location) && /acr_values=prata/.test(location));

describe('console access', () => {
  test('without a session every route sends to a fresh sign-in at prata (max_age, acr_values); nothing runs', async () => {
    const ua = new UserAgent();
    for (const path of GETS) {
      const r = await ua.request(`${app.url}${path}`);
      assert.equal(r.status, 303, path);
      assert.ok(isSignIn(r.headers.get('location')), `${path}: ${r.headers.get('location')}`);
    }
    const before = (await listAudit(app.db.db, {})).length;
    for (const path of POSTS) {
      const r = await ua.request(`${app.url}${path}`, { method: 'POST', body: new URLSearchParams({ by: 'cpf', value: '12345678909', reason: 'looking around' }) });
      // CSRF refuses first (no token); with one, still no session.
      assert.ok([303, 403].includes(r.status), `${path}: ${r.status}`);
    }
    assert.equal((await listAudit(app.db.db, {})).length, before);
  });

  test('a citizen who is no operator gets a refusal page on every route, in their language', async () => {
    const citizen = await seedOperator(app.db.db, []);
    const { ua, page } = await consoleSignIn(app.url, citizen, new UserAgent({ 'accept-language': 'en' }));
    assert.equal(page.status, 403);
    assert.match(page.html, /This account is not a Cidadela operator/);
    for (const path of GETS) assert.equal((await ua.get(`${app.url}${path}`)).status, 403, path);
  });

  test('each role opens its pages only; an attendant never reaches the audit log, an auditor never the support desk', async () => {
    for (const role of ['attendant', 'auditor', 'admin'] as const) {
      const op = await seedOperator(app.db.db, [role]);
      const { ua, page } = await consoleSignIn(app.url, op);
      assert.equal(page.status, 200, page.html.slice(0, 500));
      for (const path of GETS) {
        const shown = await ua.get(`${app.url}${path}`);
        assert.equal(shown.status, ROLE_OF[path]!.includes(role) ? 200 : 403, `${role} ${path}`);
        if (shown.status === 403) assert.match(shown.html, /O seu papel no console não abre esta página/);
      }
      // The navigation offers only what the role opens.
      const home = await ua.get(`${app.url}/admin`);
      assert.equal(home.html.includes('href="/admin/atendimento"'), role === 'attendant', role);
      assert.equal(home.html.includes('href="/admin/auditoria"'), role === 'auditor', role);
      assert.equal(home.html.includes('href="/admin/servicos"'), role === 'admin', role);
    }
  });

  test('a bronze operator is not let in: the provider asks for the higher level instead of finishing', async () => {
    const op = await seedOperator(app.db.db, ['attendant'], 'bronze');
    const { ua, page } = await consoleSignIn(app.url, op);
    assert.match(page.url, /\/interaction\//, 'stays at the provider (step-up page)');
    assert.match(page.html, /nível prata/);
    const r = await ua.request(`${app.url}/admin/atendimento`);
    assert.equal(r.status, 303);
    assert.ok(isSignIn(r.headers.get('location')));
  });

  test('a revoked role stops working at the next request', async () => {
    const op = await seedOperator(app.db.db, ['auditor']);
    const { ua } = await consoleSignIn(app.url, op);
    assert.equal((await ua.get(`${app.url}/admin/auditoria`)).status, 200);
    const { createOperatorStore } = await import('../../src/console/operator-store.ts');
    await createOperatorStore(app.db.db).revoke(op.id, 'auditor', 'cli');
    assert.equal((await ua.get(`${app.url}/admin/auditoria`)).status, 403);
  });

  test('forms without the CSRF token are refused and change nothing', async () => {
    const op = await seedOperator(app.db.db, ['attendant']);
    const target = await seedCitizen(app.db.db);
    const { ua } = await consoleSignIn(app.url, op);
    const before = (await listAudit(app.db.db, { operatorId: op.id })).length;
    for (const path of POSTS) {
      const r = await ua.request(`${app.url}${path.replace('/x/', `/${target.id}/`)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ by: 'cpf', value: target.cpf, reason: 'a fine reason', documentType: 'rg', documentNumber: '1234567', counter: 'Rua da Cidadania' }),
      });
      assert.equal(r.status, 403, path);
    }
    assert.equal((await listAudit(app.db.db, { operatorId: op.id })).length, before);
  });

  test('an expired console sign-in (older than ADMIN_MAX_AGE_SECONDS) sends to the sign-in again; the form it posts does nothing', async () => {
    const op = await seedOperator(app.db.db, ['attendant']);
    const target = await seedCitizen(app.db.db);
    const { ua } = await consoleSignIn(app.url, op);
    const desk = await ua.get(`${app.url}/admin/atendimento`);
    assert.equal(desk.status, 200);
    // The provider's session says when its owner signed in: make it an hour ago.
    await sql`update oidc_payloads set payload = jsonb_set(payload, '{loginTs}', to_jsonb(extract(epoch from now())::int - 3600)) where model = 'Session' and payload->>'accountId' = ${op.id}`.execute(app.db.db);
    const r = await ua.request(`${app.url}/admin/atendimento/busca`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrfOf(desk.html)!, by: 'cpf', value: target.cpf, reason: 'citizen at the counter' }),
    });
    assert.equal(r.status, 303);
    assert.ok(isSignIn(r.headers.get('location')));
    assert.equal((await listAudit(app.db.db, { operatorId: op.id, kind: 'support.search' })).length, 0);
  });
});

describe('console sessions', () => {
  let short: TestApp;
  before(async () => {
    short = await startTestApp({ DEMO: 'off', ADMIN_MAX_AGE_SECONDS: '60', ADMIN_REQUIRE_MFA: 'on' });
  });
  after(async () => short?.stop());

  test('ADMIN_REQUIRE_MFA=on: a password-only sign-in is refused with a page that says a second factor is needed', async () => {
    const op = await seedOperator(short.db.db, ['attendant']);
    const { page } = await consoleSignIn(short.url, op);
    assert.equal(page.status, 403);
    assert.match(page.html, /O console pede um segundo fator/);
  });
});
