import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider, { type Configuration, errors, interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import type { Db } from '../db/database.ts';
import { isUnavailable } from '../platform/errors.ts';
import { CATALOG_CLAIMS } from '../identity/field-catalog.ts';
import { clientProblems, clientTypeOf } from '../services/client-types.ts';
import type { ServiceStore } from '../services/service-store.ts';
import { createAdapterClass } from './adapter.ts';
import { readSelfPostingForm, type SelfPostingForm } from './form-post.ts';
import type { PrivateJwk } from './keys.ts';

/**
 * The only module that imports oidc-provider. Everything else talks to `Oidc`.
 * Protocol choices (DESIGN.md): code flow with PKCE S256 only, rotating refresh tokens, exact
 * redirect URIs, ES256 ID tokens (RS256 published for old clients), RP-initiated and back-channel
 * logout, introspection and revocation for services. Mobile and browser apps are public clients
 * (no secret, PKCE only), with DPoP (RFC 9449) for those that can bind their tokens to a key.
 */

export type ProviderPages = {
  error(ctx: PageContext, code: string, description: string | undefined, status: number): string;
  logout(ctx: PageContext, form: string, clientName: string | undefined): string;
  loggedOut(ctx: PageContext, clientName: string | undefined): string;
  /**
   * A form that posts itself (with a same-origin script, or the one button without JavaScript):
   * the code or error sent back to a service in `form_post` mode, or a logout that needs no question.
   */
  selfPosting(ctx: PageContext, form: SelfPostingForm, purpose: 'return' | 'logout', clientName: string | undefined): string;
};

/** What a page renderer needs from a request handled inside the provider. */
export type PageContext = { query: Record<string, unknown>; cookies: Record<string, string>; acceptLanguage?: string | undefined };

export type OidcDeps = {
  issuer: string;
  db: Db;
  keys: PrivateJwk[];
  cookieKeys: string[];
  secure: boolean;
  /** Whether X-Forwarded-For names the client (TRUST_PROXY); host and scheme come from `issuer` always. */
  trustProxy: boolean;
  services: ServiceStore;
  /**
   * The claims released to a service: exactly the fields the citizen consented to share with it,
   * whatever scopes it asked for. Undefined when the account does not exist or is disabled.
   */
  releasedClaims(accountId: string, clientId: string | undefined, request?: object): Promise<Record<string, unknown> | undefined>;
  /**
   * Whether the citizen must see the service's consent screen (first access, new terms or fields,
   * or write access asked for and not consented).
   */
  consentNeeded(accountId: string, clientId: string, scopes: Iterable<string>, request?: object): Promise<boolean>;
  /**
   * Whether an existing session's trust level (acr) is below what this service and request need:
   * then the login prompt shows again, which offers the step-up.
   */
  levelTooLow?(sessionAcr: string | undefined, clientId: string, acrValues: unknown, sessionAmr?: readonly string[]): Promise<boolean>;
  pages: ProviderPages;
  /**
   * Called after each successful authorization through a session (a sign-in, or a service reached
   * with the session already there): which session, which service, from where. Not awaited by the
   * provider; it reports its own failures.
   */
  onAuthorization?(use: {
    sessionUid: string;
    accountId: string;
    clientId: string;
    ip: string;
    userAgent: string | null;
    /** The session's amr and auth_time: how it was signed in, and when (usage reports). */
    amr: string[];
    authTime: number | undefined;
  }): void;
  /** Called for each error the provider answers with, for logs and metrics (no secrets in it). */
  onError?: (error: Error, route: string | undefined) => void;
};

export const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'phone', 'address', 'cpf', 'cidadela:write'];
/**
 * Every catalog claim hangs on `openid`: what a service receives is decided by the citizen's
 * consent to its data contract (see releasedClaims), not by the scopes it asks for. The other
 * scopes are accepted so that standard client libraries work unchanged.
 */
export const CLAIMS: Record<string, string[]> = {
  // verified_claims: OpenID Connect for Identity Assurance, for the consented fields a trusted
  // source confirmed (released by releasedClaims only then).
  // acr and auth_time are in every ID token, asked for or not: services that check the level or
  // the age of a sign-in (mod_auth_openidc, Authlib) need not know to ask.
  openid: ['sub', 'amr', 'acr', 'auth_time', ...CATALOG_CLAIMS, 'verified_claims'],
};

export const TTL = {
  AccessToken: 10 * 60,
  AuthorizationCode: 60,
  IdToken: 60 * 60,
  RefreshToken: 30 * 24 * 60 * 60,
  Interaction: 60 * 60,
  Session: 14 * 24 * 60 * 60,
  Grant: 365 * 24 * 60 * 60,
};

/**
 * A browser app's refresh tokens: JavaScript can be made to leak them (OAuth 2.0 for Browser-Based
 * Apps), so they live a day from the sign-in, however often they rotate; then the app sends the
 * citizen through the authorization again (without a password while the session lasts).
 */
export const SPA_REFRESH_TOKEN_TTL = 24 * 60 * 60;

type TokenLike = { iiat?: number };
type ClientLike = { applicationType?: string; clientAuthMethod?: string };

/** Seconds a new refresh token lives: a browser app's chain ends a day after the first one. */
export function refreshTokenTtl(token: TokenLike, client: ClientLike, now = Math.floor(Date.now() / 1000)): number {
  const type = clientTypeOf({ application_type: client.applicationType, token_endpoint_auth_method: client.clientAuthMethod });
  if (type !== 'spa') return TTL.RefreshToken;
  const firstIssued = token.iiat ?? now;
  return Math.max(1, firstIssued + SPA_REFRESH_TOKEN_TTL - now);
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const raw = part.slice(i + 1).trim();
    try {
      out[part.slice(0, i).trim()] = decodeURIComponent(raw);
    } catch {
      // A malformed cookie is someone else's problem: ignore it rather than fail the page.
    }
  }
  return out;
}

function pageContext(ctx: KoaContextWithOIDC): PageContext {
  return {
    query: { ...ctx.query, ...(ctx.oidc?.params ?? {}) },
    cookies: parseCookies(ctx.get('cookie')),
    acceptLanguage: ctx.get('accept-language') || undefined,
  };
}

/**
 * Makes the request look, to the provider, as if it came to the issuer's own address: discovery,
 * redirects and the audiences accepted in client assertions then derive from PUBLIC_URL whatever
 * Host, X-Forwarded-Host, X-Forwarded-Proto or Forwarded say (with TRUST_PROXY or without). The
 * client's address is taken from X-Forwarded-For only when the proxy is trusted.
 */
function pinToIssuer(req: IncomingMessage, issuer: URL, trustProxy: boolean): void {
  req.headers.host = issuer.host;
  req.headers['x-forwarded-host'] = issuer.host;
  req.headers['x-forwarded-proto'] = issuer.protocol.slice(0, -1);
  delete req.headers.forwarded;
  if (!trustProxy) delete req.headers['x-forwarded-for'];
}

/** Whether the logout request's (already validated) id_token_hint names this browser's session. */
function hintIsForThisSession(ctx: KoaContextWithOIDC): boolean {
  const hint = ctx.oidc.entities.IdTokenHint as { payload?: { sub?: unknown; sid?: unknown } } | undefined;
  const { session, client } = ctx.oidc;
  if (!hint?.payload || !client || !session?.accountId) return false;
  if (hint.payload.sub !== session.accountId) return false;
  if (!session.authorizations?.[client.clientId]) return false;
  return hint.payload.sid === undefined || hint.payload.sid === session.sidFor(client.clientId);
}

export function createOidc(deps: OidcDeps) {
  const { services, pages } = deps;

  // The consent prompt also appears when the citizen has not accepted the service's current terms
  // and data contract, even if oidc-provider's own grant covers the requested scopes.
  const policy = interactionPolicy.base();
  policy.get('consent')!.checks.add(
    new interactionPolicy.Check('cidadela_consent', 'terms of use or data contract not accepted', async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId || !ctx.oidc.client) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (ctx.oidc.result?.consent) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return (await deps.consentNeeded(accountId, ctx.oidc.client.clientId, ctx.oidc.requestParamOIDCScopes, ctx))
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  policy.get('login')!.checks.add(
    new interactionPolicy.Check('cidadela_level', 'trust level below what the service needs', async (ctx) => {
      const session = ctx.oidc.session;
      if (!session?.accountId || !ctx.oidc.client || !deps.levelTooLow) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      if (ctx.oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const acr = typeof session.acr === 'string' ? session.acr : undefined;
      const amr = Array.isArray(session.amr) ? (session.amr as string[]) : [];
      return (await deps.levelTooLow(acr, ctx.oidc.client.clientId, ctx.oidc.params?.acr_values, amr))
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  const Adapter = createAdapterClass(deps.db, (id) => services.clientMetadata(id));

  const configuration: Configuration = {
    adapter: Adapter as never,
    jwks: { keys: deps.keys as never },
    cookies: {
      keys: deps.cookieKeys,
      names: { session: 'cdl_session', interaction: 'cdl_interaction', resume: 'cdl_resume' },
      long: { httpOnly: true, sameSite: 'lax', secure: deps.secure },
      short: { httpOnly: true, sameSite: 'lax', secure: deps.secure },
    },
    routes: {
      authorization: '/oidc/auth',
      token: '/oidc/token',
      userinfo: '/oidc/me',
      jwks: '/oidc/jwks',
      end_session: '/oidc/session/end',
      introspection: '/oidc/token/introspection',
      revocation: '/oidc/token/revocation',
      pushed_authorization_request: '/oidc/request',
    },
    scopes: SCOPES,
    claims: CLAIMS,
    acrValues: ['bronze', 'prata', 'ouro'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    // 'none' is a public client's (a mobile or browser app): PKCE is its only proof, so it is required.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      userinfoSigningAlgValues: ['ES256', 'RS256'],
      introspectionSigningAlgValues: ['ES256', 'RS256'],
      clientAuthSigningAlgValues: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      authorizationSigningAlgValues: ['ES256', 'RS256'],
      requestObjectSigningAlgValues: ['ES256', 'RS256', 'PS256'],
      dPoPSigningAlgValues: ['ES256', 'Ed25519', 'EdDSA'],
    },
    // The same rules the service store applies on registration (client-types.ts), run again each
    // time a client is loaded: a record the store accepted is never refused at sign-in, and a
    // record that bypassed the store is refused with the same message. They run once per client,
    // hung on the one extra property, allowed_origins (a browser app's CORS origins).
    extraClientMetadata: {
      properties: ['allowed_origins'],
      validator: (_ctx, key, _value, metadata) => {
        if (key !== 'allowed_origins') return;
        const m = metadata as Record<string, unknown>;
        const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
        const [problem] = clientProblems({
          type: clientTypeOf(m),
          tokenEndpointAuthMethod: m.token_endpoint_auth_method as never,
          redirectUris: list(m.redirect_uris),
          postLogoutRedirectUris: list(m.post_logout_redirect_uris),
          backchannelLogoutUri: typeof m.backchannel_logout_uri === 'string' ? m.backchannel_logout_uri : null,
          allowedOrigins: list(m.allowed_origins),
          jwks: m.jwks,
        });
        if (problem) throw new errors.InvalidClientMetadata(`${problem.field}: ${problem.message}`);
      },
    },
    // Only a browser app calls the token, userinfo, introspection or revocation endpoints from a
    // browser, and only from the origins registered for it; any other cross-origin call is refused.
    clientBasedCORS: (_ctx, origin, client) => {
      // Extra metadata keeps its registered (snake_case) name on the Client.
      const allowed = (client as unknown as { allowed_origins?: string[] }).allowed_origins;
      return clientTypeOf({ application_type: client.applicationType, token_endpoint_auth_method: client.clientAuthMethod }) === 'spa'
        && Array.isArray(allowed) && allowed.includes(origin);
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    features: {
      devInteractions: { enabled: false },
      // A token is introspected by the service it was issued to, and by no other: the answer
      // would tell another service who the citizen is and which services they use.
      introspection: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      claimsParameter: { enabled: true },
      // Sender-constrained tokens (RFC 9449) for apps that hold a key: a DPoP-bound access or refresh
      // token is refused without a proof signed by that key. Advertised in discovery
      // (dpop_signing_alg_values_supported); a service registered with dpop_bound_access_tokens must use it.
      dPoP: { enabled: true, allowReplay: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          const clientName = ctx.oidc.client?.clientName;
          // The service already ended its own session and names this one with a valid ID token:
          // asking again would let "no" leave the citizen half signed out, so it goes through.
          if (hintIsForThisSession(ctx)) {
            const secret = String(ctx.oidc.session?.state?.secret ?? '');
            const inputs: [string, string][] = [['xsrf', secret], ['logout', 'yes']];
            ctx.body = pages.selfPosting(pageContext(ctx), { action: ctx.oidc.urlFor('end_session_confirm'), inputs }, 'logout', clientName);
            return;
          }
          ctx.body = pages.logout(pageContext(ctx), form, clientName);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = pages.loggedOut(pageContext(ctx), ctx.oidc.client?.clientName);
        },
      },
    },
    // Every service that may refresh gets rotating refresh tokens, without needing offline_access.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Every use of a refresh token consumes it and issues a new one, for every client; for a public
    // client (an app, whose token can leak from the device or the browser) this is what makes a stolen
    // token detectable: the second use of a consumed token revokes the whole grant (oidc-provider's
    // refresh_token grant), so both the thief and the app must sign in again.
    rotateRefreshToken: () => true,
    ttl: {
      ...TTL,
      RefreshToken: (_ctx, token, client) => refreshTokenTtl(token as TokenLike, client as ClientLike),
    },
    // The ID token carries the consented claims too (services need not call userinfo).
    conformIdTokenClaims: false,
    // oidc-provider refuses outbound calls to private and loopback addresses (SSRF protection for
    // dynamically registered clients). Here only operators register services, and city systems
    // live on internal networks, so the back-channel logout URIs they register must be reachable.
    fetch: (url, options) => {
      const { dispatcher: _ssrfGuard, ...rest } = options as RequestInit & { dispatcher?: unknown };
      return globalThis.fetch(url, rest);
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // A consent lives beyond a browser session: a citizen who consented before, on any device,
    // gets a grant for the scopes asked now, as long as the consent is current.
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session?.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) {
        const grant = await ctx.oidc.provider.Grant.find(grantId);
        if (grant) return grant;
      }
      const accountId = ctx.oidc.session?.accountId;
      const client = ctx.oidc.client;
      if (!accountId || !client || (await deps.consentNeeded(accountId, client.clientId, ctx.oidc.requestParamOIDCScopes, ctx))) return undefined;
      const grant = new ctx.oidc.provider.Grant({ accountId, clientId: client.clientId });
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    findAccount: async (ctx, sub) => {
      const clientId = ctx.oidc?.client?.clientId;
      const claims = await deps.releasedClaims(sub, clientId, ctx ?? undefined);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => claims as { sub: string } };
    },
    renderError: async (ctx, out, error) => {
      ctx.type = 'html';
      if (isUnavailable(error)) {
        ctx.status = 503;
        ctx.set('retry-after', '5');
        ctx.body = pages.error(pageContext(ctx), 'temporarily_unavailable', undefined, 503);
        return;
      }
      const status = (error as { statusCode?: number }).statusCode ?? ctx.status ?? 400;
      ctx.body = pages.error(pageContext(ctx), out.error ?? 'server_error', out.error_description, status);
    },
  };

  const provider = new Provider(deps.issuer, configuration);
  // The provider builds every endpoint it publishes or redirects to from the request's own address
  // (Koa's ctx.href). `handle` below pins that address to the issuer, through the forwarded
  // headers that Koa reads when `proxy` is on, so that no header a client sends can change it.
  provider.proxy = true;
  const issuer = new URL(deps.issuer);

  // Client secrets are stored as SHA-256 hashes (DESIGN: never kept in clear), so the comparison
  // oidc-provider makes against `client_secret` (which holds the hash) hashes the presented one.
  // This touches the Client model's prototype: the one deep hook into the library, kept here.
  const ClientModel = provider.Client as unknown as { prototype: { clientSecret?: string; compareClientSecret(a: string): boolean } };
  ClientModel.prototype.compareClientSecret = function compareHashed(actual: string) {
    const stored = this.clientSecret ?? '';
    const presented = `sha256:${createHash('sha256').update(String(actual)).digest('base64url')}`;
    const a = Buffer.from(stored);
    const b = Buffer.from(presented);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  // The database being out of reach is not a server bug: services and browsers get a 503 with
  // Retry-After (and the standard temporarily_unavailable code), and may simply try again.
  provider.on('server_error', (ctx, error) => {
    if (isUnavailable(error)) ctx.state.cidadelaUnavailable = true;
    deps.onError?.(error, 'server_error');
  });
  provider.use(async (ctx, next) => {
    await next();
    if (!ctx.state.cidadelaUnavailable) return;
    ctx.status = 503;
    ctx.set('retry-after', '5');
    if (ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)) {
      ctx.body = { error: 'temporarily_unavailable', error_description: 'try again in a few seconds' };
    }
  });
  // oidc-provider's own self-posting page (English, an inline script allowed by its hash added to
  // our CSP) is replaced by ours, under the CSP as it was (form-post.ts).
  provider.use(async (ctx, next) => {
    const csp = ctx.response.get('content-security-policy');
    await next();
    const form = readSelfPostingForm(ctx.body);
    if (!form) return;
    if (csp) ctx.set('content-security-policy', csp);
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    const purpose = form.inputs.some(([name]) => name === 'logout') ? 'logout' : 'return';
    ctx.type = 'html';
    ctx.body = pages.selfPosting(pageContext(oidcCtx), form, purpose, oidcCtx.oidc?.client?.clientName);
  });
  // The document is the same for every request now, so a shared cache may keep it a while; keys
  // rotate on a schedule far longer than this (decision 8), and the JWKS stays uncached.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'discovery' && ctx.status === 200) ctx.set('cache-control', 'public, max-age=300');
  });
  provider.on('authorization.error', (ctx, error) => deps.onError?.(error, ctx.oidc?.route));
  provider.on('grant.error', (ctx, error) => deps.onError?.(error, ctx.oidc?.route));
  provider.on('backchannel.error', (_ctx, error, client) => deps.onError?.(error, `backchannel_logout:${client.clientId}`));
  provider.on('authorization.success', (ctx) => {
    const session = ctx.oidc?.session;
    const clientId = ctx.oidc?.client?.clientId;
    if (!deps.onAuthorization || !session?.accountId || !session.uid || !clientId) return;
    const authTime = session.authTime();
    deps.onAuthorization({
      sessionUid: session.uid,
      accountId: session.accountId,
      clientId,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent') || null,
      amr: Array.isArray(session.amr) ? (session.amr as string[]) : [],
      authTime: typeof authTime === 'number' ? authTime : undefined,
    });
  });

  const callback = provider.callback();

  return {
    provider,
    issuer: deps.issuer,
    handle(req: IncomingMessage, res: ServerResponse): void {
      pinToIssuer(req, issuer, deps.trustProxy);
      callback(req, res);
    },
    interactionDetails: (req: IncomingMessage, res: ServerResponse) => {
      pinToIssuer(req, issuer, deps.trustProxy);
      return provider.interactionDetails(req, res);
    },
    /** The citizen signed in on this browser (the provider's session cookie), if any. */
    async sessionAccount(
      req: IncomingMessage,
      res: ServerResponse,
    ): Promise<{ accountId: string; uid: string; acr?: string; amr?: string[]; authTime?: number } | undefined> {
      pinToIssuer(req, issuer, deps.trustProxy);
      const ctx = provider.createContext(req, res);
      const session = await provider.Session.get(ctx as never);
      if (!session.accountId) return undefined;
      const authTime = session.authTime();
      return {
        accountId: session.accountId,
        uid: session.uid,
        ...(typeof authTime === 'number' ? { authTime } : {}),
        ...(typeof session.acr === 'string' ? { acr: session.acr } : {}),
        ...(Array.isArray(session.amr) ? { amr: session.amr as string[] } : {}),
      };
    },
    /**
     * Ends this browser's session ("Não é você?" on a shared computer): the citizen is signed out
     * here; the next authorization request finds no session and asks who is there.
     */
    async endSession(req: IncomingMessage, res: ServerResponse): Promise<void> {
      pinToIssuer(req, issuer, deps.trustProxy);
      const ctx = provider.createContext(req, res);
      const session = await provider.Session.get(ctx as never);
      await session.destroy();
    },
    interactionResult: (req: IncomingMessage, res: ServerResponse, result: Record<string, unknown>) => {
      pinToIssuer(req, issuer, deps.trustProxy);
      return provider.interactionResult(req, res, result, { mergeWithLastSubmission: false });
    },
    Grant: provider.Grant,
    /**
     * Sends the back-channel logout (OpenID Connect Back-Channel Logout 1.0) to each service of a
     * session the code ended itself (the provider sends it only for the sessions it ends): a logout
     * token naming the account and the session's `sid` for that service. A service that does not
     * answer is reported, as the provider reports its own; the others are not held up by it.
     */
    async backchannelLogout(accountId: string, logouts: readonly { clientId: string; sid: string }[]): Promise<number> {
      const sent = await Promise.all(
        logouts.map(async ({ clientId, sid }) => {
          try {
            const client = await provider.Client.find(clientId);
            if (!client?.backchannelLogoutUri) return 0;
            // Client#backchannelLogout is what the provider's own end_session calls; its types omit it.
            await (client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> }).backchannelLogout(accountId, sid);
            return 1;
          } catch (error) {
            deps.onError?.(error as Error, `backchannel_logout:${clientId}`);
            return 0;
          }
        }),
      );
      return sent.reduce<number>((a, b) => a + b, 0);
    },
  };
}

export type Oidc = ReturnType<typeof createOidc>;
