import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import type { PrivateJwk } from '../oidc/keys.ts';

/**
 * Security Event Tokens (RFC 8417) as services receive them. One event per SET; `sub` is the
 * citizen's OIDC `sub` (the same the service got in the ID token) and `sub_id` repeats it in the
 * Shared Signals form (RFC 9493 `iss_sub`). Event types are CAEP and RISC ones where they fit,
 * and Cidadela's own URNs for consent (docs/integration-events.md lists them).
 */
export const CLAIMS_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change';
export const ACCOUNT_DISABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-disabled';
export const ACCOUNT_ENABLED = 'https://schemas.openid.net/secevent/risc/event-type/account-enabled';
export const ACCOUNT_PURGED = 'https://schemas.openid.net/secevent/risc/event-type/account-purged';
export const CREDENTIAL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/credential-change';
export const ASSURANCE_LEVEL_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/assurance-level-change';
export const CONSENT_GRANTED = 'urn:cidadela:secevent:event-type:consent-granted';
export const CONSENT_REVOKED = 'urn:cidadela:secevent:event-type:consent-revoked';

export const SET_MEDIA_TYPE = 'application/secevent+jwt';

export type SetClaims = {
  iss: string;
  aud: string;
  sub: string;
  sub_id: { format: 'iss_sub'; iss: string; sub: string };
  jti: string;
  iat: number;
  toe: number;
  txn: string;
  events: Record<string, Record<string, unknown>>;
};

/** The claims of one SET; the jti is new and stays with the delivery through every retry. */
export function setClaims(input: {
  issuer: string;
  clientId: string;
  sub: string;
  eventId: string;
  eventType: string;
  /** When the change happened (seconds). */
  toe: number;
  body: Record<string, unknown>;
}): SetClaims {
  const { issuer, sub } = input;
  return {
    iss: issuer,
    aud: input.clientId,
    sub,
    sub_id: { format: 'iss_sub', iss: issuer, sub },
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    toe: input.toe,
    // The same for every service's copy of one change: correlates them in logs and support calls.
    txn: input.eventId,
    events: { [input.eventType]: { event_timestamp: input.toe, ...input.body } },
  };
}

export type SetSigner = {
  kid: string;
  sign(claims: Record<string, unknown>): Promise<string>;
};

/**
 * Signs SETs with the provider's current ES256 key (the one ID tokens are signed with), so a
 * service verifies them with the JWKS it already uses (/oidc/jwks).
 */
export async function createSetSigner(keys: PrivateJwk[]): Promise<SetSigner> {
  const jwk = keys.find((k) => k.alg === 'ES256');
  if (!jwk) throw new Error('no ES256 signing key');
  const key = await importJWK(jwk as Parameters<typeof importJWK>[0], 'ES256');
  const header = { alg: 'ES256', kid: jwk.kid, typ: 'secevent+jwt' };
  return {
    kid: jwk.kid,
    sign: (claims) => new SignJWT(claims).setProtectedHeader(header).sign(key),
  };
}
