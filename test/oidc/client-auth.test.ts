import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import { addService, answerConsent, authorizationRequest, exchange, registerThroughService, type TestService, UserAgent } from '../helpers/journeys.ts';
import { startSmtpPeer } from '../helpers/smtp-peer.ts';
import { startTestApp, type TestApp } from '../helpers/test-app.ts';

let app: TestApp;
let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
const ua = new UserAgent();

before(async () => {
  smtp = await startSmtpPeer();
  app = await startTestApp({ SMTP_URL: smtp.url });
  // One signed-in citizen for all: each service below only adds its consent.
  const first = await addService(app);
  const auth = await authorizationRequest(first);
  const { page } = await registerThroughService(ua, first, auth, smtp);
  await answerConsent(ua, page, first);
});
after(async () => {
  await app?.stop();
  await smtp?.close();
});

async function signInAt(svc: TestService) {
  const auth = await authorizationRequest(svc);
  let page = await ua.get(auth.url.href, svc.redirectUri);
  if (page.status === 200) page = await answerConsent(ua, page, svc);
  return { auth, callback: page.url };
}

test('client_secret_post authenticates at the token endpoint; a wrong secret sent that way is refused', async () => {
  const svc = await addService(app, { tokenEndpointAuthMethod: 'client_secret_post' });
  const post = await client.discovery(new URL(app.url), svc.clientId, { client_secret: svc.clientSecret }, client.ClientSecretPost(svc.clientSecret), {
    execute: [client.allowInsecureRequests],
  });
  const { auth, callback } = await signInAt({ ...svc, config: post });
  const tokens = await exchange({ ...svc, config: post }, auth, callback);
  assert.ok(tokens.access_token);
  const wrong = await client.discovery(new URL(app.url), svc.clientId, {}, client.ClientSecretPost('not-the-secret'), {
    execute: [client.allowInsecureRequests],
  });
  const second = await signInAt(svc);
  await assert.rejects(exchange({ ...svc, config: wrong }, second.auth, second.callback), (e: { error?: string }) => e.error === 'invalid_client');
});

test('private_key_jwt: a service with its own keys and no secret', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'svc-key-1', alg: 'ES256', use: 'sig' };
  const redirectUri = 'http://127.0.0.1:9/cb/pkjwt';
  const { service, clientSecret } = await createServiceStore(app.db.db, { provider: createProviderState() }).add({
    name: 'Serviço com chave própria',
    redirectUris: [redirectUri],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [jwk] },
    fields: [{ key: 'name', required: true, purpose: 'para identificar você' }],
  });
  assert.equal(clientSecret, null, 'no secret is made for a service that signs its own assertions');
  const config = await client.discovery(new URL(app.url), service.clientId, {}, client.PrivateKeyJwt({ key: privateKey, kid: 'svc-key-1' }), {
    execute: [client.allowInsecureRequests],
  });
  const svc: TestService = { clientId: service.clientId, clientSecret: '', redirectUri, config };
  const { auth, callback } = await signInAt(svc);
  const tokens = await exchange(svc, auth, callback);
  assert.ok(tokens.claims()!.name);
  // An assertion signed by another key is refused.
  const other = await generateKeyPair('ES256');
  const forged = await client.discovery(new URL(app.url), service.clientId, {}, client.PrivateKeyJwt({ key: other.privateKey, kid: 'svc-key-1' }), {
    execute: [client.allowInsecureRequests],
  });
  const again = await signInAt(svc);
  await assert.rejects(exchange({ ...svc, config: forged }, again.auth, again.callback), (e: { error?: string }) => e.error === 'invalid_client');
});
