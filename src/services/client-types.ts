/**
 * The kinds of service and the addresses each may register. One set of rules, used when a service
 * is added or changed (CLI and admin API, through the service store) and again by the provider
 * each time it loads a client's metadata, so that nothing registered can be refused at sign-in.
 *
 * - `confidential`: a server that keeps a secret (or its own keys). Redirects are exact https URLs,
 *   http only on a loopback address for development.
 * - `native` (RFC 8252, OAuth 2.0 for Native Apps): a mobile or desktop app. No secret, PKCE only.
 *   Redirects are claimed https URLs (Android App Links, iOS Universal Links), private-use schemes
 *   in reverse-domain form (`br.gov.cidade.app:/cb`), or the loopback interface by IP literal
 *   (`http://127.0.0.1/cb`), where the provider ignores the port because the app picks a free one.
 * - `spa` (OAuth 2.0 for Browser-Based Apps): JavaScript in a browser. No secret, PKCE only,
 *   exact redirect URLs as a confidential service, and the origins allowed to call the token
 *   endpoint from a browser (CORS).
 */

export const CLIENT_TYPES = ['confidential', 'native', 'spa'] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

export const SECRET_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export const AUTH_METHODS = [...SECRET_AUTH_METHODS, 'none'] as const;
export type TokenEndpointAuthMethod = (typeof AUTH_METHODS)[number];

/** Whether a kind of service has no secret (a public client, RFC 6749 §2.1). */
export function isPublic(type: ClientType): boolean {
  return type !== 'confidential';
}

/** The OpenID Connect `application_type` the provider knows the kind by. */
export function applicationType(type: ClientType): 'web' | 'native' {
  return type === 'native' ? 'native' : 'web';
}

/** The kind of a client from its provider metadata (the inverse of what `clientMetadata` writes). */
export function clientTypeOf(metadata: {
  application_type?: unknown;
  token_endpoint_auth_method?: unknown;
}): ClientType {
  if (metadata.application_type === 'native') return 'native';
  return metadata.token_endpoint_auth_method === 'none' ? 'spa' : 'confidential';
}

// RFC 8252 §8.3: loopback by IP literal; `localhost` may resolve elsewhere or be blocked by a firewall.
const LOOPBACK_IPS = new Set(['127.0.0.1', '[::1]']);
const LOOPBACK_HOSTS = new Set([...LOOPBACK_IPS, 'localhost']);
// A private-use scheme named after a domain its owner controls, in reverse order (RFC 8252 §7.1).
const REVERSE_DOMAIN_SCHEME = /^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$/;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

const EXAMPLE_SCHEME = 'br.gov.cidade.app:/cb';
const WEB_ONLY =
  'must be an absolute https URI (http only on a loopback address: 127.0.0.1, [::1] or localhost)';

/** Problems every address shares, whatever it is for; the parsed URL when there are none. */
function parseAddress(value: string): { url: URL } | { problem: string } {
  if (value.includes('*'))
    return { problem: 'wildcards are not allowed: register each address exactly as the app sends it' };
  if (!SCHEME.test(value)) return { problem: 'must be an absolute URI, with its scheme (https://…)' };
  const url = URL.parse(value);
  if (!url) return { problem: 'must be an absolute URI, with its scheme (https://…)' };
  if (value.includes('#')) return { problem: 'must be written without a fragment (#…)' };
  if (url.username || url.password) return { problem: 'must not contain a user name or password' };
  return { url };
}

/** A web address (https, or http on loopback for development) for a server or a browser app. */
function webProblem(url: URL): string | undefined {
  if (url.protocol === 'https:') return url.hostname ? undefined : 'must name a host';
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname) ? undefined : WEB_ONLY;
  }
  if (REVERSE_DOMAIN_SCHEME.test(url.protocol.slice(0, -1))) {
    return `a private-use scheme (${EXAMPLE_SCHEME}) is for mobile and desktop apps: register the service with type native`;
  }
  return WEB_ONLY;
}

/** A native app's redirect: claimed https, loopback by IP literal, or a reverse-domain private-use scheme. */
function nativeProblem(url: URL): string | undefined {
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'https') {
    if (!url.hostname) return 'must name a host';
    return LOOPBACK_HOSTS.has(url.hostname)
      ? `a claimed https redirect cannot be on a loopback address; for a loopback redirect use http://127.0.0.1/…`
      : undefined;
  }
  if (scheme === 'http') {
    if (url.hostname === 'localhost')
      return 'use the loopback IP literal http://127.0.0.1/… or http://[::1]/…, not localhost (RFC 8252 §8.3)';
    if (!LOOPBACK_IPS.has(url.hostname)) {
      return `a native app may use http only on the loopback interface (http://127.0.0.1/…, any port); otherwise use a claimed https URL or a private-use scheme like ${EXAMPLE_SCHEME}`;
    }
    return undefined;
  }
  if (!REVERSE_DOMAIN_SCHEME.test(scheme)) {
    return `a private-use scheme must be a domain the app's owner controls, in reverse order, with at least one dot, like ${EXAMPLE_SCHEME} (RFC 8252 §7.1)`;
  }
  if (url.host || url.href.startsWith(`${url.protocol}//`)) {
    return `a private-use scheme redirect has a single slash after the scheme, like ${EXAMPLE_SCHEME} (RFC 8252 §7.1)`;
  }
  return undefined;
}

/** Why `value` cannot be a redirect (or post-logout redirect) URI of a service of this type. */
export function redirectUriProblem(type: ClientType, value: string): string | undefined {
  const parsed = parseAddress(value);
  if ('problem' in parsed) return parsed.problem;
  return type === 'native' ? nativeProblem(parsed.url) : webProblem(parsed.url);
}

/** Why `value` cannot be a back-channel logout URI: only a server can receive one. */
export function backchannelLogoutUriProblem(type: ClientType, value: string): string | undefined {
  if (isPublic(type)) return 'a mobile or browser app has no server to receive back-channel logout';
  const parsed = parseAddress(value);
  if ('problem' in parsed) return parsed.problem;
  const problem = webProblem(parsed.url);
  return problem && !parsed.url.protocol.startsWith('http') ? WEB_ONLY : problem;
}

/** Why `value` cannot be an origin allowed to call the token endpoint from a browser. */
export function allowedOriginProblem(value: string): string | undefined {
  const parsed = parseAddress(value);
  if ('problem' in parsed) return parsed.problem;
  const { url } = parsed;
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return 'must be an https origin, like https://portal.cidade.gov.br';
  if (url.origin !== value)
    return `must be an origin alone (scheme, host and port, no path or trailing slash), like ${url.origin}`;
  return webProblem(url);
}

export type ClientSettings = {
  type: ClientType;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  redirectUris: readonly string[];
  postLogoutRedirectUris: readonly string[];
  backchannelLogoutUri: string | null;
  allowedOrigins: readonly string[];
  jwks: unknown;
};

export type Problem = { field: string; message: string };

/** Every reason the settings cannot be registered, each naming its field (`redirectUris.0`). */
export function clientProblems(s: ClientSettings): Problem[] {
  const problems: Problem[] = [];
  const each = (field: string, values: readonly string[], check: (v: string) => string | undefined) =>
    values.forEach((value, i) => {
      const message = check(value);
      if (message) problems.push({ field: `${field}.${i}`, message });
    });
  if (isPublic(s.type)) {
    if (s.tokenEndpointAuthMethod !== 'none') {
      problems.push({
        field: 'tokenEndpointAuthMethod',
        message:
          'an app cannot keep a secret: a native or spa service has no client authentication (none) and proves itself with PKCE',
      });
    }
    if (s.jwks)
      problems.push({
        field: 'jwks',
        message: 'a native or spa service has no keys of its own (jwks is for private_key_jwt)',
      });
  } else if (s.tokenEndpointAuthMethod === 'none') {
    problems.push({
      field: 'tokenEndpointAuthMethod',
      message:
        'a confidential service authenticates with client_secret_basic, client_secret_post or private_key_jwt; an app that cannot keep a secret is registered with type native or spa',
    });
  }
  each('redirectUris', s.redirectUris, (v) => redirectUriProblem(s.type, v));
  each('postLogoutRedirectUris', s.postLogoutRedirectUris, (v) => redirectUriProblem(s.type, v));
  if (s.backchannelLogoutUri !== null) {
    const message = backchannelLogoutUriProblem(s.type, s.backchannelLogoutUri);
    if (message) problems.push({ field: 'backchannelLogoutUri', message });
  }
  if (s.type === 'spa') each('allowedOrigins', s.allowedOrigins, allowedOriginProblem);
  else if (s.allowedOrigins.length) {
    problems.push({
      field: 'allowedOrigins',
      message: 'only a browser app (type spa) calls the token endpoint from a browser',
    });
  }
  return problems;
}

/** The origins of a browser app's redirect URIs: what it may call from when none are given. */
export function originsOf(uris: readonly string[]): string[] {
  return [
    ...new Set(uris.map((u) => URL.parse(u)?.origin).filter((o): o is string => Boolean(o) && o !== 'null')),
  ];
}
