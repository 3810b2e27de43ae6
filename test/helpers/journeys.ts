import * as client from 'openid-client';
import { cpfFromBase } from '../../src/identity/cpf.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore } from '../../src/services/service-store.ts';
import { codeFrom, type startSmtpPeer } from './smtp-peer.ts';
import type { TestApp } from './test-app.ts';
import { formAction, formFields, type Page, UserAgent } from './user-agent.ts';

let counter = 0;

/** A new citizen's data, unique within the run. */
export function newCitizen(overrides: Partial<Record<string, string>> = {}) {
  counter++;
  const base = `${Date.now() % 1_000_000}${String(counter).padStart(3, '0')}`.slice(-9);
  return {
    cpf: cpfFromBase(base),
    name: 'Joana Teste da Silva',
    social_name: '',
    birthdate: '1988-03-21',
    email: `joana.${base}.${counter}@example.test`,
    phone_number: '',
    password: 'girassol azul na janela 42',
    ...overrides,
  };
}

export type TestService = { clientId: string; clientSecret: string; redirectUri: string; config: client.Configuration };

/** Registers a service through the store and discovers it with openid-client, as an RP would. */
export async function addService(app: TestApp, input: Record<string, unknown> = {}): Promise<TestService> {
  const redirectUri = (input.redirectUris as string[] | undefined)?.[0] ?? `http://127.0.0.1:9/cb/${++counter}`;
  const { service, clientSecret } = await createServiceStore(app.db.db, { provider: createProviderState() }).add({
    name: `Serviço de teste ${counter}`,
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [`${redirectUri}/after-logout`],
    termsMarkdown: '# Termos\n\nUse com cuidado.',
    fields: [
      { key: 'name', required: true, purpose: 'para identificar você' },
      { key: 'email', required: true, purpose: 'para enviar avisos' },
      { key: 'cpf', required: true, purpose: 'para cruzar com o cadastro municipal' },
      { key: 'birthdate', required: false, purpose: 'para calcular a idade' },
    ],
    ...input,
  });
  const config = await client.discovery(new URL(app.url), service.clientId, clientSecret!, undefined, {
    execute: [client.allowInsecureRequests],
  });
  return { clientId: service.clientId, clientSecret: clientSecret!, redirectUri, config };
}

export type Authorization = { url: URL; verifier: string; state: string; nonce: string };

export async function authorizationRequest(svc: TestService, extra: Record<string, string> = {}): Promise<Authorization> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(svc.config, {
    redirect_uri: svc.redirectUri,
    scope: 'openid profile email cpf',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { url, verifier, state, nonce };
}

export async function exchange(svc: TestService, auth: Authorization, callbackUrl: string) {
  return client.authorizationCodeGrant(svc.config, new URL(callbackUrl), {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
    expectedNonce: auth.nonce,
    idTokenExpected: true,
  });
}

type Smtp = Awaited<ReturnType<typeof startSmtpPeer>>;

/** From an authorization request to the login page, then registration with e-mail confirmation. */
export async function registerThroughService(
  ua: UserAgent,
  svc: TestService,
  auth: Authorization,
  smtp: Smtp,
  citizen = newCitizen(),
): Promise<{ page: Page; citizen: ReturnType<typeof newCitizen> }> {
  const login = await ua.get(auth.url.href, svc.redirectUri);
  const registerUrl = new URL(login.html.match(/href="(\/interaction\/[^"]+\/register)"/)![1]!, login.url).href;
  const form = await ua.get(registerUrl);
  const afterRegister = await ua.post(formAction(form, '/register'), citizen, svc.redirectUri);
  if (!afterRegister.url.includes('/confirm-email')) {
    throw new Error(`registration did not reach e-mail confirmation: ${afterRegister.status}\n${afterRegister.html.slice(0, 3000)}`);
  }
  const mail = await smtp.waitFor(citizen.email);
  const confirmed = await ua.post(formAction(afterRegister, '/confirm-email'), { code: codeFrom(mail) }, svc.redirectUri);
  return { page: confirmed, citizen };
}

/** On a consent page: accept (or decline) and return where the browser is sent. */
export async function answerConsent(
  ua: UserAgent,
  page: Page,
  svc: TestService,
  accept = true,
  typed: Record<string, string> = {},
): Promise<Page> {
  if (!page.html.includes('name="decision"')) throw new Error(`not a consent page: ${page.url}\n${page.html.slice(0, 2000)}`);
  const fields = { ...formFields(page, '/consent'), ...typed, decision: accept ? 'accept' : 'decline' };
  return ua.post(formAction(page, '/consent'), fields, svc.redirectUri);
}

/** Signs in with a password from the login page reached by `auth`. */
export async function loginThroughService(
  ua: UserAgent,
  svc: TestService,
  auth: Authorization,
  identifier: string,
  password: string,
): Promise<Page> {
  const login = await ua.get(auth.url.href, svc.redirectUri);
  if (login.status === 303) return login;
  return ua.post(formAction(login, '/login'), { identifier, password }, svc.redirectUri);
}

export { UserAgent };
