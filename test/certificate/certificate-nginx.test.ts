import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createI18n } from '../../src/platform/i18n.ts';
import { CERTIFICATE_NAMES, createTestPki, EXPECTED_DECISIONS, PEOPLE, serverCertificate, type TestPki } from '../fixtures/test-pki.ts';
import { handoffFrom, PROXY_HEADER, presentOverTls } from '../helpers/certificates.ts';
import { seedCitizen } from '../helpers/citizens.ts';
import { addService, authorizationRequest, type TestService, UserAgent } from '../helpers/journeys.ts';
import { freePort, startTestApp, type TestApp } from '../helpers/test-app.ts';

// A real nginx (Debian's package) in front, configured with docs/nginx/certificate-login.conf as
// the operator would copy it (only ports and file paths replaced): it does the TLS handshake,
// forwards the certificate in the header, and Cidadela decides.

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const DOC = new URL('../../docs/nginx/certificate-login.conf', import.meta.url).pathname;
const t = createI18n().translator('pt-BR');

let pki: TestPki;
let app: TestApp;
let svc: TestService;
let nginx: ChildProcess | undefined;
let nginxUrl: string;
let serverCertPem: string;

function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    child.once('exit', (code) => {
      if (!done) reject(new Error(`nginx exited (${code}):\n${output()}`));
    });
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        done = true;
        socket.end();
        resolve();
      });
      // Refused until nginx has bound the port: try again when the refusal comes back.
      socket.once('error', () => {
        socket.destroy();
        if (!done && child.exitCode === null) setImmediate(attempt);
      });
    };
    attempt();
  });
}

before(async () => {
  if (!NGINX) return;
  pki = await createTestPki();
  const nginxPort = await freePort();
  nginxUrl = `https://127.0.0.1:${nginxPort}`;
  const appPort = await freePort();
  app = await startTestApp({
    PORT: String(appPort),
    PUBLIC_URL: `http://127.0.0.1:${appPort}`,
    CERT_TRUST_DIR: pki.trustDir,
    CERT_CRL_DIR: pki.crlDir,
    CERT_CRL_FETCH: 'off',
    CERT_CRL_GRACE_SECONDS: '0',
    CERT_PROXY_HEADER: PROXY_HEADER,
    CERT_TRUSTED_PROXIES: '127.0.0.1',
    CERT_LOGIN_URL: nginxUrl,
  });
  svc = await addService(app);
  await seedCitizen(app.db.db, { cpf: PEOPLE.holder.cpf, birthdate: PEOPLE.holder.birthdate });
  await seedCitizen(app.db.db, { cpf: PEOPLE.responsible.cpf, birthdate: PEOPLE.responsible.birthdate });

  const prefix = join(pki.dir, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const { certPem, keyPem } = await serverCertificate();
  serverCertPem = certPem;
  writeFileSync(join(prefix, 'server.crt'), certPem);
  writeFileSync(join(prefix, 'server.key'), keyPem);
  const server = readFileSync(DOC, 'utf8')
    .replace('listen 443 ssl;', `listen 127.0.0.1:${nginxPort} ssl;`)
    .replace('/etc/ssl/cidadela/certificado.crt', join(prefix, 'server.crt'))
    .replace('/etc/ssl/cidadela/certificado.key', join(prefix, 'server.key'))
    .replaceAll('http://127.0.0.1:3000', `http://127.0.0.1:${appPort}`);
  // Everything nginx writes stays in the temporary prefix: no root paths, no daemon.
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `daemon off;
master_process off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs/error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${join(prefix, 'body')};
  proxy_temp_path ${join(prefix, 'proxy')};
  fastcgi_temp_path ${join(prefix, 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'uwsgi')};
  scgi_temp_path ${join(prefix, 'scgi')};
${server}
}
`,
  );
  execFileSync(NGINX, ['-t', '-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'pipe' });
  let output = '';
  nginx = spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  nginx.stdout!.on('data', (c) => (output += c));
  nginx.stderr!.on('data', (c) => (output += c));
  await waitForPort(nginxPort, nginx, () => output + readFileSync(join(prefix, 'logs/error.log'), 'utf8'));
});

after(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx!.once('exit', r));
    nginx.kill('SIGTERM');
    await exited;
  }
  await app?.stop();
  pki?.remove();
});

const skip = NGINX ? false : 'nginx is not installed (apt-get install nginx; .ci/run does)';

async function handoff() {
  const ua = new UserAgent({ 'accept-language': 'pt-BR' });
  const auth = await authorizationRequest(svc);
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const page = await ua.get(new URL(login.html.match(/href="(\/interaction\/[^"]+\/certificate)"/)![1]!, login.url).href);
  return { uid: new URL(login.url).pathname.split('/')[2]!, ...handoffFrom(page) };
}

test('the login page posts the handoff to nginx', { skip }, async () => {
  const { action } = await handoff();
  assert.equal(action, `${nginxUrl}/certificate/login`);
});

for (const name of CERTIFICATE_NAMES) {
  const expected = EXPECTED_DECISIONS[name];
  const tooWeakForTls = name === 'weak-key' ? 'a TLS client cannot load a 1024-bit key (ERR_SSL_EE_KEY_TOO_SMALL)' : false;
  test(`through nginx, ${name}: ${expected ?? 'accepted'}`, { skip: skip || tooWeakForTls }, async () => {
    const { uid, action, handoff: token } = await handoff();
    const answer = await presentOverTls(action, token, pki.certs[name], serverCertPem);
    if (expected === null) {
      assert.equal(answer.status, 303, answer.html.slice(0, 800));
      assert.equal(answer.location, `${app.url}/interaction/${uid}/complete`);
    } else {
      assert.equal(answer.status, 403, answer.html.slice(0, 800));
      assert.ok(answer.html.includes(t(expected).replaceAll("'", '&#39;')), `the page says why: ${t(expected)}`);
    }
  });
}

test('through nginx with no certificate, a header the browser forges never reaches Cidadela', { skip }, async () => {
  const { uid, action, handoff: token } = await handoff();
  const { request } = await import('node:https');
  const body = new URLSearchParams({ handoff: token }).toString();
  const answer = await new Promise<{ status: number; html: string }>((resolve, reject) => {
    const req = request(
      action,
      {
        method: 'POST',
        ca: serverCertPem,
        agent: false,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          [PROXY_HEADER]: encodeURIComponent(pki.certs['ecpf-a3-octet'].pem),
        },
      },
      (res) => {
        let html = '';
        res.on('data', (c) => (html += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, html }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(answer.status, 400);
  assert.ok(answer.html.includes(t('certificate.none')));
  const rows = await app.db.db.selectFrom('verifications').select('id').where('interaction_uid', '=', uid).execute();
  assert.equal(rows.length, 0);
});
