/**
 * The peer for `npm run bench`: a bare oidc-provider of the version Cidadela uses, with the
 * library's own in-memory adapter and a minimal interaction (it signs in a new account and grants
 * the scopes asked, with no page and no database). It is the framework's ceiling on this machine:
 * the bench runs the same SSO, refresh and userinfo load against it and reports Cidadela ÷ peer.
 *
 * Configured like Cidadela where it matters for those phases: PKCE required, ES256 ID tokens
 * carrying the claims (conformIdTokenClaims off), client_secret_basic, refresh tokens issued to
 * every client allowed the grant and rotated on every use, the same routes and cookie options.
 *
 *   node bench/peer/server.ts   (PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI from the environment)
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT ?? 0);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.CLIENT_ID ?? 'peer-client';
const clientSecret = process.env.CLIENT_SECRET ?? 'peer-secret';
const redirectUri = process.env.REDIRECT_URI ?? 'http://127.0.0.1:9/bench/callback';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'peer-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  jwks: { keys: [jwk as never] },
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ],
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    long: { httpOnly: true, sameSite: 'lax', secure: false },
    short: { httpOnly: true, sameSite: 'lax', secure: false },
  },
  routes: { authorization: '/oidc/auth', token: '/oidc/token', userinfo: '/oidc/me', jwks: '/oidc/jwks' },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'cpf'],
  claims: { openid: ['sub'], profile: ['name', 'birthdate'], email: ['email', 'email_verified'], cpf: ['cpf'] },
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  conformIdTokenClaims: false,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({
      sub,
      name: 'Cidadã de Referência',
      email: `${sub}@peer.example`,
      email_verified: true,
      cpf: '52998224725',
      birthdate: '1990-01-01',
    }),
  }),
});
provider.proxy = false;

let accounts = 0;
const callback = provider.callback();
const server = createServer(async (req, res) => {
  if (req.url === '/readyz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  if (req.url?.startsWith('/interaction/')) {
    // The minimal interaction: a new account signs in and grants what the service asked.
    try {
      const details = await provider.interactionDetails(req, res);
      const accountId = details.session?.accountId ?? `peer-${++accounts}`;
      const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope));
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      res.writeHead(500).end(String((error as Error).message));
    }
    return;
  }
  callback(req, res);
});
server.listen(port, '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
