import { createHash, randomBytes, randomInt } from 'node:crypto';
import { CookieJar, type Http, type HttpResponse } from './http.ts';

/**
 * The relying party's side of the journeys, done by hand (PKCE with node:crypto, forms with their
 * CSRF token) so the load generator spends as little CPU as possible. Every response is checked;
 * anything unexpected throws, and the load runner counts it as an error.
 */
export type BenchClient = { issuer: string; clientId: string; clientSecret: string; redirectUri: string };

export type Tokens = { accessToken: string; refreshToken: string; sub: string };
export type LoginResult = Tokens & { jar: CookieJar; consentShown: boolean; requests: number };

export class BenchError extends Error {}

const SCOPE = 'openid profile email cpf';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function fail(what: string, res: HttpResponse): never {
  const where = typeof res.headers.location === 'string' ? ` → ${res.headers.location.split('?')[0]}` : '';
  throw new BenchError(`${what}: HTTP ${res.status}${where}`);
}

function location(res: HttpResponse, what: string): string {
  if (res.status < 300 || res.status > 399 || typeof res.headers.location !== 'string') fail(what, res);
  return res.headers.location;
}

function csrfOf(html: string, what: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new BenchError(`${what}: no CSRF token on the page`);
  return m[1]!;
}

function b64urlJson(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function createRp(http: Http, c: BenchClient) {
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64')}`;
  const issuerPath = new URL(c.issuer).pathname.replace(/\/$/, '');

  function authorizationRequest() {
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(12).toString('base64url');
    const nonce = randomBytes(12).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const q = new URLSearchParams({
      client_id: c.clientId,
      redirect_uri: c.redirectUri,
      response_type: 'code',
      scope: SCOPE,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { path: `${issuerPath}/oidc/auth?${q}`, verifier, state, nonce };
  }

  /** Reads the code from the redirect to the service, checking state and the RFC 9207 iss. */
  function codeFrom(to: string, expectedState: string): string {
    const u = new URL(to);
    if (u.searchParams.get('error'))
      throw new BenchError(`authorization error: ${u.searchParams.get('error')}`);
    if (u.searchParams.get('state') !== expectedState) throw new BenchError('state mismatch');
    const iss = u.searchParams.get('iss');
    if (iss !== null && iss !== c.issuer) throw new BenchError('iss mismatch');
    const code = u.searchParams.get('code');
    if (!code) throw new BenchError('no code in the redirect');
    return code;
  }

  function checkTokenResponse(res: HttpResponse, what: string, nonce?: string): Tokens {
    if (res.status !== 200) {
      let error = '';
      try {
        error = String((JSON.parse(res.body) as { error?: string }).error ?? '');
      } catch {}
      throw new BenchError(`${what}: HTTP ${res.status} ${error}`.trim());
    }
    const body = JSON.parse(res.body) as Record<string, unknown>;
    const { access_token, refresh_token, id_token, token_type } = body;
    if (typeof access_token !== 'string' || !access_token) throw new BenchError(`${what}: no access_token`);
    if (typeof refresh_token !== 'string' || !refresh_token)
      throw new BenchError(`${what}: no refresh_token`);
    if (typeof id_token !== 'string') throw new BenchError(`${what}: no id_token`);
    if (String(token_type).toLowerCase() !== 'bearer')
      throw new BenchError(`${what}: token_type ${token_type}`);
    // The ID token's claims are checked; its ES256 signature is not verified here (client CPU the
    // server would lose); the protocol tests verify it with openid-client.
    const claims = b64urlJson(id_token.split('.')[1]);
    if (claims.iss !== c.issuer || claims.aud !== c.clientId)
      throw new BenchError(`${what}: wrong iss/aud in the ID token`);
    if (nonce !== undefined && claims.nonce !== nonce) throw new BenchError(`${what}: nonce mismatch`);
    if (typeof claims.sub !== 'string') throw new BenchError(`${what}: no sub`);
    return { accessToken: access_token, refreshToken: refresh_token, sub: claims.sub };
  }

  async function exchangeCode(code: string, verifier: string, nonce: string): Promise<Tokens> {
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: c.redirectUri,
      code_verifier: verifier,
    }).toString();
    const res = await http.request('POST', `${issuerPath}/oidc/token`, {
      headers: { ...FORM, authorization: basic },
      body,
    });
    return checkTokenResponse(res, 'code exchange', nonce);
  }

  /** GET the consent page and accept; returns where the provider sends the browser next. */
  async function acceptConsent(jar: CookieJar, interaction: string): Promise<string> {
    const interactionPath = pathOf(interaction);
    const page = await http.request('GET', interactionPath, { jar });
    if (page.status !== 200 || !page.body.includes('name="decision"')) fail('consent page', page);
    // As a browser would: the ticked checkboxes (optional fields to share), the token, the button.
    const fields = new URLSearchParams();
    for (const m of page.body.matchAll(/<input\b([^>]*\bchecked\b[^>]*)>/g)) {
      const name = /\bname="([^"]+)"/.exec(m[1]!)?.[1];
      if (name) fields.append(name, /\bvalue="([^"]*)"/.exec(m[1]!)?.[1] ?? 'on');
    }
    fields.set('_csrf', csrfOf(page.body, 'consent page'));
    fields.set('decision', 'accept');
    const body = fields.toString();
    const posted = await http.request('POST', `${interactionPath}/consent`, { jar, headers: FORM, body });
    const resume = location(posted, 'consent');
    return location(await http.request('GET', pathOf(resume), { jar }), 'resume after consent');
  }

  return {
    /**
     * A full password login in a new browser: authorize → login page → POST credentials → resume →
     * (consent, if the provider asks for it) → redirect with code → token exchange.
     */
    async passwordLogin(identifier: string, password: string): Promise<LoginResult> {
      // Each browser comes from its own address, as through a load balancer (TRUST_PROXY=true):
      // the per-address login throttle then sees citizens, not the one load generator.
      const jar = new CookieJar(`10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`);
      const a = authorizationRequest();
      let requests = 0;
      const toInteraction = location(await http.request('GET', a.path, { jar }), 'authorize');
      requests++;
      if (!toInteraction.includes('/interaction/')) throw new BenchError('authorize did not ask for a login');
      const page = await http.request('GET', pathOf(toInteraction), { jar });
      requests++;
      if (page.status !== 200 || !page.body.includes('name="password"')) fail('login page', page);
      const form = new URLSearchParams({
        identifier,
        password,
        _csrf: csrfOf(page.body, 'login page'),
      }).toString();
      const posted = await http.request('POST', `${pathOf(toInteraction)}/login`, {
        jar,
        headers: FORM,
        body: form,
      });
      requests++;
      if (posted.status === 401 || posted.status === 429)
        throw new BenchError(`login refused: HTTP ${posted.status}`);
      const resume = location(posted, 'login');
      let to = location(await http.request('GET', pathOf(resume), { jar }), 'resume after login');
      requests++;
      let consentShown = false;
      if (!to.startsWith(c.redirectUri)) {
        if (!to.includes('/interaction/'))
          throw new BenchError(`unexpected redirect after login to ${pathOnly(to)}`);
        consentShown = true;
        to = await acceptConsent(jar, to);
        requests += 3;
      }
      if (!to.startsWith(c.redirectUri)) throw new BenchError('no redirect to the service after login');
      const tokens = await exchangeCode(codeFrom(to, a.state), a.verifier, a.nonce);
      requests++;
      return { ...tokens, jar, consentShown, requests };
    },

    /**
     * The peer's journey (bench/peer/server.ts): authorize → its minimal interaction, which signs in
     * and grants at once → resume → code → token. Gives a browser with a session, as the first pass does.
     */
    async minimalLogin(): Promise<LoginResult> {
      const jar = new CookieJar(`10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`);
      const a = authorizationRequest();
      let to = location(await http.request('GET', a.path, { jar }), 'authorize');
      let requests = 1;
      while (!to.startsWith(c.redirectUri)) {
        if (requests > 4) throw new BenchError(`no redirect to the service, stuck at ${pathOnly(to)}`);
        to = location(await http.request('GET', pathOf(to), { jar }), `redirect ${requests}`);
        requests++;
      }
      const tokens = await exchangeCode(codeFrom(to, a.state), a.verifier, a.nonce);
      return { ...tokens, jar, consentShown: false, requests: requests + 1 };
    },

    /** Single sign-on: the browser has a session and the service a grant: authorize → code → token. */
    async ssoLogin(jar: CookieJar): Promise<Tokens> {
      const a = authorizationRequest();
      const to = location(await http.request('GET', a.path, { jar }), 'authorize (SSO)');
      if (!to.startsWith(c.redirectUri))
        throw new BenchError(`SSO was sent to ${pathOnly(to)} instead of the service`);
      return exchangeCode(codeFrom(to, a.state), a.verifier, a.nonce);
    },

    /** refresh_token grant; the answer must carry a new (rotated) refresh token. */
    async refresh(refreshToken: string): Promise<Tokens> {
      const body = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      }).toString();
      const res = await http.request('POST', `${issuerPath}/oidc/token`, {
        headers: { ...FORM, authorization: basic },
        body,
      });
      const tokens = checkTokenResponse(res, 'refresh');
      if (tokens.refreshToken === refreshToken) throw new BenchError('refresh token was not rotated');
      return tokens;
    },

    async userinfo(accessToken: string, sub: string): Promise<void> {
      const res = await http.request('GET', `${issuerPath}/oidc/me`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      if (res.status !== 200) fail('userinfo', res);
      const claims = JSON.parse(res.body) as Record<string, unknown>;
      if (claims.sub !== sub || typeof claims.email !== 'string')
        throw new BenchError('userinfo: wrong or missing claims');
    },
  };
}

export type Rp = ReturnType<typeof createRp>;

/** The path and query of an absolute or relative URL. */
function pathOf(url: string): string {
  if (url.startsWith('/')) return url;
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}

function pathOnly(url: string): string {
  return pathOf(url).split('?')[0]!;
}
