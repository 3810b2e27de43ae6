import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatCpf } from '../../src/identity/cpf.ts';
import { addService, authorizationRequest, newCitizen, type TestService, UserAgent } from '../helpers/journeys.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction } from '../helpers/user-agent.ts';

type Seen = { method: string; url: string; status: number; headers: Headers; body: string };

/** A browser without JavaScript that keeps every response it received, redirects included. */
class RecordingAgent extends UserAgent {
  readonly seen: Seen[] = [];
  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await super.request(url, init);
    const html = (response.headers.get('content-type') ?? '').includes('text/html');
    this.seen.push({
      method: init.method ?? 'GET',
      url,
      status: response.status,
      headers: response.headers,
      body: html ? await response.clone().text() : '',
    });
    return response;
  }
}

function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...values]) => [name!.toLowerCase(), values]),
  );
}

describe('security headers, page hygiene and logs', () => {
  let app: TestApp;
  let svc: TestService;
  const agents: RecordingAgent[] = [];
  const citizen = newCitizen({ name: 'Rosa Headers Lima' });
  const codes: string[] = [];
  const agent = (headers: Record<string, string> = {}) => {
    const a = new RecordingAgent(headers);
    agents.push(a);
    return a;
  };
  const all = () => agents.flatMap((a) => a.seen);
  const htmlPages = () => all().filter((s) => (s.headers.get('content-type') ?? '').includes('text/html'));

  /** The latest code mailed to the citizen, read from the development outbox page. */
  async function latestCode(ua: RecordingAgent): Promise<string> {
    const outbox = await ua.get(`${app.url}/dev/outbox`);
    assert.equal(outbox.status, 200);
    const code = outbox.html.match(/<article>[\s\S]*?<pre>[\s\S]*?\b(\d{6})\b/)?.[1];
    assert.ok(code, 'a code in the outbox');
    codes.push(code);
    return code;
  }

  before(async () => {
    // No SMTP: mail goes to the development outbox, whose page is one more page to check.
    app = await startTestApp();
    svc = await addService(app);

    // Pages anyone can open.
    const visitor = agent({ 'accept-language': 'es' });
    await visitor.get(`${app.url}/`);
    await visitor.get(`${app.url}/demo`);
    await visitor.get(`${app.url}/demo/demo-servico`);
    await visitor.get(`${app.url}/nao-existe`);
    await visitor.get(`${app.url}/static/app.css`);
    await visitor.get(`${app.url}/healthz`);
    await visitor.get(`${app.url}/.well-known/openid-configuration`);
    await visitor.get(`${app.url}/oidc/auth?client_id=nao-existe&response_type=code&scope=openid`);
    await visitor.get(`${app.url}/interaction/nao-existe-123`);
    await visitor.get(`${app.url}/dev/outbox`);
    // Paths the router refuses before any route or hook runs.
    await visitor.get(`${app.url}/interaction/${'a'.repeat(300)}`);
    await visitor.get(`${app.url}/interaction/%E0%A4%A`);

    // A registration through the demo service, with every kind of refusal on the way.
    const ua = agent();
    const login = await ua.get(`${app.url}/demo/demo-servico/login`);
    assert.equal(login.status, 200);
    const form = await ua.get(new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href);
    const action = formAction(form, '/register');
    assert.equal((await ua.post(action, { ...citizen, cpf: '111.111.111-11' })).status, 422);
    assert.equal((await ua.post(action, citizen, undefined, { csrf: false })).status, 403);
    await ua.get(form.url);
    assert.equal((await ua.post(action, { ...citizen, name: 'x'.repeat(200_000) })).status, 413);
    await ua.get(form.url);
    const confirm = await ua.post(action, citizen);
    assert.match(confirm.url, /\/confirm-email$/);
    assert.equal((await ua.post(formAction(confirm, '/confirm-email'), { code: 'abcdef' })).status, 422);
    assert.equal((await ua.post(formAction(ua.last!, '/resend'), {})).status, 422);
    const code = await latestCode(ua);
    await ua.get(confirm.url);
    const consent = await ua.post(formAction(ua.last!, '/confirm-email'), { code });
    assert.match(consent.html, /name="decision"/);
    const claims = await ua.post(formAction(consent, '/consent'), { decision: 'accept' });
    assert.match(claims.html, /id="claims"/);
    await ua.get(`${app.url}/conta`);
    await ua.get(`${app.url}/conta/dados`);
    await ua.get(`${app.url}/conta/email`);
    // Logout through the provider's own pages.
    const logout = await ua.get(`${app.url}/demo/demo-servico/logout`);
    assert.equal(logout.status, 200);
    await ua.get(`${app.url}/oidc/session/end`);

    // Logins: by formatted CPF and by e-mail, wrong passwords until throttled.
    const other = agent({ 'accept-language': 'en' });
    const auth = await authorizationRequest(svc);
    await other.get(auth.url.href, svc.redirectUri);
    for (let i = 0; i < 5; i++) await other.post(formAction(other.last!, '/login'), { identifier: formatCpf(citizen.cpf), password: `${citizen.password}?` }, svc.redirectUri);
    assert.equal(other.last!.status, 429);
    await app.db.db.updateTable('login_throttle').set({ locked_until: null }).execute();
    const back = await other.post(formAction(other.last!, '/login'), { identifier: citizen.email.toUpperCase(), password: citizen.password }, svc.redirectUri);
    assert.equal(back.status, 200, 'the consent page of the test service');
    const callback = await other.post(formAction(back, '/consent'), { decision: 'accept' }, svc.redirectUri);
    assert.ok(callback.url.startsWith(svc.redirectUri));
    // A service may ask for the code in a self-posting form instead of a redirect.
    const formPost = await other.get((await authorizationRequest(svc, { response_mode: 'form_post' })).url.href, svc.redirectUri);
    assert.match(formPost.html, /name="code"/);
  });

  after(async () => {
    await app?.stop();
  });

  test('the walk saw the pages it means to check', () => {
    const statuses = new Set(htmlPages().map((s) => s.status));
    for (const status of [200, 400, 401, 403, 404, 413, 422, 429]) assert.ok(statuses.has(status), `an HTML page with status ${status}`);
    const paths = htmlPages().map((s) => new URL(s.url).pathname);
    for (const part of ['/interaction/', '/register', '/confirm-email', '/demo/demo-servico', '/dev/outbox', '/oidc/session/end', '/conta', '/oidc/auth']) {
      assert.ok(paths.some((p) => p.includes(part)), `a page under ${part}`);
    }
    assert.ok(htmlPages().length >= 25, `${htmlPages().length} pages`);
  });

  test('every HTML page has a strict Content-Security-Policy', () => {
    for (const s of htmlPages()) {
      const where = `${s.method} ${s.url} (${s.status})`;
      const csp = s.headers.get('content-security-policy');
      assert.ok(csp, `CSP on ${where}`);
      assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'|\*/, `no unsafe sources on ${where}`);
      const d = directives(csp);
      assert.deepEqual(d.get('frame-ancestors'), ["'none'"], `frame-ancestors 'none' on ${where}`);
      assert.deepEqual(d.get('object-src'), ["'none'"], where);
      assert.ok(d.get('default-src')?.includes("'self'"), where);
      for (const name of ['script-src', 'style-src']) {
        const values = d.get(name) ?? d.get('default-src')!;
        assert.ok(values.every((v) => v === "'self'" || /^'sha256-/.test(v)), `${name} ${values.join(' ')} on ${where}`);
      }
    }
  });

  test('every HTML page says nosniff, no framing, and no-store', () => {
    for (const s of htmlPages()) {
      const where = `${s.method} ${s.url} (${s.status})`;
      assert.equal(s.headers.get('x-content-type-options'), 'nosniff', where);
      assert.equal(s.headers.get('x-frame-options'), 'DENY', where);
      assert.match(s.headers.get('cache-control') ?? '', /\bno-store\b/, `no-store on ${where}`);
      assert.equal(s.headers.get('referrer-policy'), 'no-referrer', where);
    }
  });

  const isFormPost = (s: Seen) => s.url.includes('response_mode=form_post');

  test('our pages have no inline script, no style attribute or element, no event handler attribute', () => {
    for (const s of htmlPages()) {
      const where = `${s.method} ${s.url} (${s.status})`;
      for (const tag of s.body.match(/<script\b[^>]*>/gi) ?? []) assert.match(tag, /\ssrc="\/static\/[^"]+"/, `external script only on ${where}: ${tag}`);
      assert.doesNotMatch(s.body, /<script\b[^>]*>\s*[^<\s]/i, `no inline script body on ${where}`);
      assert.doesNotMatch(s.body, /\sstyle\s*=/i, `no style attribute on ${where}`);
      assert.doesNotMatch(s.body, /<style\b/i, `no style element on ${where}`);
      assert.doesNotMatch(s.body, /<[^>]+\son[a-z]+\s*=/i, `no event handler attribute on ${where}`);
    }
  });

  // oidc-provider renders the form_post response itself (English, an inline script allowed by a
  // hash it adds to the CSP); src/oidc/form-post.ts puts ours in its place.
  test('the form_post response page has no inline script, keeps the CSP and is in the person\'s language', () => {
    const pages = htmlPages().filter(isFormPost);
    assert.ok(pages.length > 0);
    for (const s of pages) {
      assert.doesNotMatch(s.body, /<script\b(?![^>]*\ssrc=)[^>]*>/i);
      assert.doesNotMatch(s.body, /Submitting Callback/);
      // The agent that asked reads English.
      assert.match(s.body, /<html lang="en">/);
      assert.match(s.body, /We are taking you back to the service Serviço de teste/);
      assert.match(s.body, /<script src="\/static\/auto-submit\.js" defer>/);
      assert.match(s.body, /<form method="post" action="http:\/\/127\.0\.0\.1:9\/cb\/[^"]+" data-auto-submit>/);
      assert.doesNotMatch(s.headers.get('content-security-policy') ?? '', /sha256-/);
    }
  });

  test('every response carries a request id; a well-formed one sent by the caller is kept', async () => {
    for (const s of all()) assert.match(s.headers.get('x-request-id') ?? '', /^[\w-]{8,64}$/, `${s.method} ${s.url} (${s.status})`);
    const ids = all().map((s) => s.headers.get('x-request-id'));
    assert.equal(new Set(ids).size, ids.length, 'one id per request');
    const given = await fetch(`${app.url}/`, { headers: { 'x-request-id': 'balanceador-0123456789' } });
    assert.equal(given.headers.get('x-request-id'), 'balanceador-0123456789');
    const provider = await fetch(`${app.url}/.well-known/openid-configuration`, { headers: { 'x-request-id': 'balanceador-abcdef' } });
    assert.equal(provider.headers.get('x-request-id'), 'balanceador-abcdef');
    const odd = await fetch(`${app.url}/`, { headers: { 'x-request-id': 'x"><script>' } });
    assert.match(odd.headers.get('x-request-id') ?? '', /^[\w-]{8,64}$/, 'a malformed id is replaced');
    assert.ok(app.logs.some((line) => line.includes('"reqId":"balanceador-0123456789"')), 'the log line carries the id');
  });

  test('no CPF, e-mail, password or code of the registration shows in the logs', () => {
    const logs = app.logs.join('\n');
    assert.ok(logs.includes('"msg":"request"'), 'requests were logged');
    assert.ok(codes.length > 0);
    const secrets = [
      citizen.cpf,
      formatCpf(citizen.cpf),
      citizen.email,
      citizen.email.toUpperCase(),
      citizen.email.split('@')[0]!,
      citizen.password,
      encodeURIComponent(citizen.password),
      ...codes,
    ];
    for (const secret of secrets) assert.ok(!logs.toLowerCase().includes(secret.toLowerCase()), `"${secret}" appears in the logs`);
  });
});
