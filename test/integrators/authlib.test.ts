import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
import { formAction, formFields, UserAgent } from '../helpers/user-agent.ts';

/*
 * A relying party nobody here wrote: docs/examples/authlib_client.py, a Python service on
 * Debian's Authlib, run as published against Cidadela on loopback; the browser a cookie-keeping agent.
 */

const PYTHON = '/usr/bin/python3';
const EXAMPLE = new URL('../../docs/examples/authlib_client.py', import.meta.url).pathname;

const skip = !existsSync(PYTHON)
  ? `${PYTHON} is not installed`
  : spawnSync(PYTHON, ['-c', 'import authlib, requests'], { stdio: 'ignore' }).status !== 0
    ? 'python3-authlib or python3-requests is not installed (apt-get install python3-authlib python3-requests)'
    : false;

describe('Python Authlib as the relying party', () => {
  describe('sign-in, userinfo, refresh, revocation and logout', { skip }, () => {
    let app: TestApp;
    let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
    let svc: TestService;
    let python: ChildProcess;
    let appUrl: string;
    let output = '';

    before(async () => {
      smtp = await startSmtpPeer();
      app = await startTestApp({ SMTP_URL: smtp.url });
      const port = await freePort();
      appUrl = `http://127.0.0.1:${port}`;
      svc = await addService(app, {
        name: 'Serviço em Python',
        redirectUris: [`${appUrl}/retorno`],
        postLogoutRedirectUris: [`${appUrl}/`],
      });
      python = spawn(PYTHON, [EXAMPLE], {
        env: {
          PATH: '/usr/bin:/bin',
          CIDADELA_ISSUER: app.url,
          CLIENT_ID: svc.clientId,
          CLIENT_SECRET: svc.clientSecret,
          APP_URL: appUrl,
          PORT: String(port),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const ready = new Promise<void>((resolve, reject) => {
        python.stdout!.on('data', (c) => {
          output += c;
          if (output.includes('listening')) resolve();
        });
        python.stderr!.on('data', (c) => (output += c));
        python.once('exit', (c) => reject(new Error(`the example exited (${c}):\n${output}`)));
      });
      await ready;
    });

    after(async () => {
      if (python && python.exitCode === null) {
        const gone = new Promise((r) => python.once('exit', r));
        python.kill('SIGTERM');
        await gone;
      }
      await app?.stop();
      await smtp?.close();
    });

    const startAt = (): Authorization => ({
      url: new URL(`${appUrl}/entrar`),
      verifier: '',
      state: '',
      nonce: '',
    });
    let ua: UserAgent;

    test('sign-in: the ID token validated by Authlib carries the claims, acr and auth_time; userinfo agrees', async () => {
      ua = new UserAgent();
      const { page, citizen } = await registerThroughService(ua, svc, startAt(), smtp);
      const back = await answerConsent(ua, page, svc);
      // answerConsent stops at the service's redirect; the agent follows it to the service.
      const panel = await ua.get(back.url);
      assert.equal(panel.status, 200, `${panel.url}\n${panel.html.slice(0, 500)}\n${output}`);
      const { claims, userinfo } = JSON.parse(panel.html);
      assert.equal(claims.iss, app.url);
      assert.equal(claims.aud, svc.clientId);
      assert.equal(claims.email, citizen.email);
      assert.equal(claims.acr, 'bronze');
      assert.equal(typeof claims.auth_time, 'number');
      assert.equal(userinfo.sub, claims.sub);
      assert.equal(userinfo.cpf, citizen.cpf);
    });

    test('a refresh rotates the token', async () => {
      const res = await ua.get(`${appUrl}/renovar`);
      assert.equal(res.status, 200, output);
      assert.deepEqual(JSON.parse(res.html), { rotated: true });
    });

    test('logout revokes the refresh token and ends the Cidadela session without a question', async () => {
      const going = await ua.get(`${appUrl}/sair`);
      assert.match(going.html, /data-auto-submit/, `${going.url}\n${going.html.slice(0, 800)}`);
      const done = await ua.post(
        formAction(going, '/oidc/session/end/confirm'),
        formFields(going, '/oidc/session/end/confirm'),
        undefined,
        { csrf: false },
      );
      assert.deepEqual(JSON.parse(done.html), { signed_in: false });
      const again = await ua.get(`${appUrl}/entrar`);
      assert.match(again.html, /name="password"/, 'Cidadela asks for the password again');
    });

    test('a declined consent reaches the service as access_denied', async () => {
      const other = new UserAgent();
      const { page } = await registerThroughService(other, svc, startAt(), smtp);
      const back = await answerConsent(other, page, svc, false);
      const res = await other.get(back.url);
      assert.equal(res.status, 403);
      assert.deepEqual(JSON.parse(res.html), { error: 'access_denied' });
    });
  });
});
