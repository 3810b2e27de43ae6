import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type Authorization,
  addService,
  answerConsent,
  registerThroughService,
  type TestService,
} from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { freePort, startTestApp, type TestApp } from '../helpers/test-app.ts';
import { formAction, formFields, type Page, UserAgent } from '../helpers/user-agent.ts';

/*
 * A relying party nobody here wrote: Debian's Apache with mod_auth_openidc, configured with
 * docs/examples/mod_auth_openidc.conf exactly as published, in front of a small application that
 * echoes what the module passes it. Cidadela on loopback, the browser a cookie-keeping agent.
 */

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const SITE_CONF = new URL('../../docs/examples/mod_auth_openidc.conf', import.meta.url).pathname;
const missing = !existsSync(APACHE) || !existsSync(join(MODULES, 'mod_auth_openidc.so'));
const skip = missing
  ? 'apache2 or libapache2-mod-auth-openidc is not installed (apt-get install apache2 libapache2-mod-auth-openidc)'
  : false;

/**
 * The agent as a browser's navigation: the module answers a request that does not look like one
 * (Sec-Fetch-Mode other than navigate, which fetch always sends as cors) with 401 instead of the
 * redirect to sign in. node:http sends the headers as given.
 */
class Navigator extends UserAgent {
  constructor() {
    super({
      accept: 'text/html,application/xhtml+xml',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
    });
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url);
    const headers: Record<string, string> = {
      ...this.headers,
      ...Object.fromEntries([...(new Headers(init.headers) as unknown as Iterable<[string, string]>)]),
    };
    const cookie = this.cookieHeader(u);
    if (cookie) headers.cookie = cookie;
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(u, { method: init.method ?? 'GET', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) h.append(k, one);
          }
          const status = res.statusCode ?? 500;
          const response = new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), {
            status,
            headers: h,
          });
          this.store(response);
          resolve(response);
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

describe('Apache mod_auth_openidc as the relying party', { skip }, () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let svc: TestService;
  let backend: Server;
  let apache: ChildProcess;
  let dir: string;
  let appUrl: string;
  let apacheLog = '';

  before(async () => {
    smtp = await startSmtpPeer();
    app = await startTestApp({ SMTP_URL: smtp.url });
    // The application behind the module: it answers with what reached it.
    backend = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, headers: req.headers }));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const backendUrl = `http://127.0.0.1:${(backend.address() as { port: number }).port}`;
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    svc = await addService(app, {
      name: 'Sistema legado',
      redirectUris: [`${appUrl}/protegido/redirect_uri`],
      postLogoutRedirectUris: [`${appUrl}/saiu`],
    });
    dir = mkdtempSync(join(tmpdir(), 'cidadela-apache-'));
    const load = (name: string, file: string) => `LoadModule ${name} ${MODULES}/${file}`;
    writeFileSync(
      join(dir, 'httpd.conf'),
      [
        `ServerRoot ${dir}`,
        `DefaultRuntimeDir ${dir}`,
        `PidFile ${dir}/httpd.pid`,
        `ErrorLog ${dir}/error.log`,
        'LogLevel warn auth_openidc:info',
        `Listen 127.0.0.1:${port}`,
        'ServerName 127.0.0.1',
        'User www-data',
        'Group www-data',
        load('mpm_event_module', 'mod_mpm_event.so'),
        load('authn_core_module', 'mod_authn_core.so'),
        load('authz_core_module', 'mod_authz_core.so'),
        load('authz_user_module', 'mod_authz_user.so'),
        load('proxy_module', 'mod_proxy.so'),
        load('proxy_http_module', 'mod_proxy_http.so'),
        load('auth_openidc_module', 'mod_auth_openidc.so'),
        `Include ${SITE_CONF}`,
        '',
      ].join('\n'),
    );
    apache = spawn(APACHE, ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        CIDADELA_ISSUER: app.url,
        OIDC_CLIENT_ID: svc.clientId,
        OIDC_CLIENT_SECRET: svc.clientSecret,
        OIDC_CRYPTO_PASSPHRASE: randomBytes(32).toString('base64url'),
        APP_URL: appUrl,
        BACKEND_URL: backendUrl,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    apache.stdout!.on('data', (c) => (apacheLog += c));
    apache.stderr!.on('data', (c) => (apacheLog += c));
    // Up when it answers; the loop ends at once on a start failure.
    let exited = false;
    apache.once('exit', () => (exited = true));
    for (let i = 0; i < 600 && !exited; i++) {
      const up = await fetch(`${appUrl}/saiu`).then(
        () => true,
        () => false,
      );
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(!exited, `apache2 did not start:\n${apacheLog}`);
  });

  after(async () => {
    if (apache && apache.exitCode === null) {
      const gone = new Promise((r) => apache.once('exit', r));
      apache.kill('SIGTERM');
      await gone;
    }
    backend?.close();
    await app?.stop();
    await smtp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const protectedUrl = () => `${appUrl}/protegido/app/painel`;
  const startAt = (): Authorization => ({ url: new URL(protectedUrl()), verifier: '', state: '', nonce: '' });
  const errorLog = () =>
    existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';

  /** The self-posting page Cidadela shows for form_post, posted as a browser without JavaScript would. */
  async function postBack(ua: UserAgent, page: Page): Promise<Page> {
    assert.match(page.html, /data-auto-submit/, `the form_post page, got ${page.status} ${page.url}`);
    return ua.post(
      formAction(page, '/protegido/redirect_uri'),
      formFields(page, '/protegido/redirect_uri'),
      undefined,
      { csrf: false },
    );
  }

  let ua: UserAgent;
  let citizen: Awaited<ReturnType<typeof registerThroughService>>['citizen'];

  test('sign-in: PKCE S256, form_post, the consented claims and acr reach the application', async () => {
    ua = new Navigator();
    const first = await new Navigator().get(protectedUrl());
    assert.match(
      first.url,
      /\/interaction\//,
      `${first.status} ${first.url}\n${first.html.slice(0, 1500)}\n${errorLog()}`,
    );
    const { page, citizen: c } = await registerThroughService(ua, svc, startAt(), smtp);
    citizen = c;
    const back = await postBack(ua, await answerConsent(ua, page, svc));
    assert.equal(back.status, 200, `${back.url}\n${back.html.slice(0, 500)}\n${errorLog()}`);
    const seen = JSON.parse(back.html) as { path: string; headers: Record<string, string> };
    assert.equal(seen.path, '/protegido/app/painel');
    assert.equal(seen.headers.oidc_claim_email, citizen.email);
    assert.equal(seen.headers.oidc_claim_cpf, citizen.cpf);
    assert.equal(seen.headers.oidc_claim_acr, 'bronze');
    assert.match(seen.headers.oidc_claim_auth_time ?? '', /^\d+$/);
    assert.match(seen.headers.oidc_claim_sub ?? '', /^[\w-]{8,}$/);
    assert.notEqual(seen.headers.oidc_claim_sub, citizen.cpf);
  });

  test('logout through the module ends the Cidadela session without a question', async () => {
    const going = await ua.get(
      `${appUrl}/protegido/redirect_uri?logout=${encodeURIComponent(`${appUrl}/saiu`)}`,
    );
    assert.match(
      going.html,
      /data-auto-submit/,
      `no question, a page that posts itself: ${going.url}\n${going.html.slice(0, 800)}`,
    );
    const done = await ua.post(
      formAction(going, '/oidc/session/end/confirm'),
      formFields(going, '/oidc/session/end/confirm'),
      undefined,
      { csrf: false },
    );
    assert.equal(JSON.parse(done.html).path, '/saiu');
    // Back at the protected page: Cidadela asks for the password again.
    const login = await ua.get(protectedUrl());
    assert.match(login.url, /\/interaction\//);
    assert.match(login.html, /name="password"/);
  });

  test('a declined consent reaches the module as access_denied, not as a target_link_uri error', async () => {
    const other = new Navigator();
    const { page } = await registerThroughService(other, svc, startAt(), smtp);
    const back = await postBack(other, await answerConsent(other, page, svc, false));
    // The module's own error page (status 200 in 2.4), naming the error Cidadela sent.
    assert.match(back.html, /access_denied/, back.html);
    assert.doesNotMatch(back.html, /"path"/, 'the application was not reached');
    assert.doesNotMatch(back.html, /target_link_uri/);
  });
});
