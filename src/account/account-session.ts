import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CitizenStore } from '../identity/citizen-store.ts';
import type { Oidc } from '../oidc/provider.ts';
import { ACCOUNT_CLIENT_ID } from './account-services.ts';

/** Who is signed in on the account pages (the provider's session, SSO), and the way to sign in. */
export function createAccountSession(deps: { oidc: Oidc; citizens: CitizenStore; issuer: string }) {
  return {
    async signedIn(request: FastifyRequest, reply: FastifyReply) {
      const session = await deps.oidc.sessionAccount(request.raw, reply.raw);
      if (!session) return undefined;
      const citizen = await deps.citizens.findById(session.accountId);
      if (!citizen || citizen.status !== 'active') return undefined;
      return { citizen, session };
    },

    /** `again`: the password (and second step) even over a live session, as for a sensitive change. */
    signIn(reply: FastifyReply, again = false) {
      const challenge = createHash('sha256').update(randomBytes(32)).digest('base64url');
      const url = new URL('/oidc/auth', deps.issuer);
      url.search = new URLSearchParams({
        client_id: ACCOUNT_CLIENT_ID,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: `${deps.issuer}/conta/callback`,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: randomBytes(12).toString('base64url'),
        ...(again ? { prompt: 'login' } : {}),
      }).toString();
      return reply.redirect(url.href, 303);
    },

    /** The provider's logout for the account pages, back to /conta/saiu. */
    logoutUrl() {
      const logout = new URL('/oidc/session/end', deps.issuer);
      logout.search = new URLSearchParams({
        client_id: ACCOUNT_CLIENT_ID,
        post_logout_redirect_uri: `${deps.issuer}/conta/saiu`,
      }).toString();
      return logout.href;
    },
  };
}

export type AccountSession = ReturnType<typeof createAccountSession>;
export type SignedIn = NonNullable<Awaited<ReturnType<AccountSession['signedIn']>>>;

/** Where and how the citizen acted, for a consent record. */
export function actionContext(request: FastifyRequest, me: SignedIn) {
  return {
    ip: request.ip,
    userAgent: request.headers['user-agent'] ?? null,
    acr: me.session.acr ?? null,
    amr: me.session.amr ?? null,
  };
}
