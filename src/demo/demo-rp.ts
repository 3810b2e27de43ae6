import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidcClient from 'openid-client';
import { html } from '../web/html.ts';
import type { UiFactory } from '../web/request-context.ts';
import type { Secrets } from '../security/secrets.ts';
import { DEMO_SERVICES, demoClientSecret } from './demo-services.ts';

/**
 * A tiny relying party for the two demo services, built on openid-client (a certified RP library)
 * exactly as a city service would use it. Its session is a sealed cookie; back-channel logouts it
 * receives are remembered in memory (it is a demo: one process).
 */
export function registerDemoRp(
  app: FastifyInstance,
  deps: { issuer: string; secrets: Secrets; ui: UiFactory; secure: boolean },
) {
  const configs = new Map<string, Promise<oidcClient.Configuration>>();
  const loggedOutSids = new Set<string>();
  const jwks = createRemoteJWKSet(new URL(`${deps.issuer}/oidc/jwks`));

  function config(clientId: string): Promise<oidcClient.Configuration> {
    let c = configs.get(clientId);
    if (!c) {
      const insecure = deps.issuer.startsWith('http:');
      c = oidcClient
        .discovery(new URL(deps.issuer), clientId, demoClientSecret(deps.secrets, clientId), undefined, {
          ...(insecure ? { execute: [oidcClient.allowInsecureRequests] } : {}),
        })
        .catch((error) => {
          configs.delete(clientId);
          throw error;
        });
      configs.set(clientId, c);
    }
    return c;
  }

  const cookieName = (id: string) => `demo_${id.replace(/-/g, '_')}`;
  type DemoSession =
    | { stage: 'login'; verifier: string; state: string; nonce: string }
    | { stage: 'in'; claims: Record<string, unknown>; userinfo: Record<string, unknown>; idToken: string; sid?: string };

  function read(request: FastifyRequest, id: string): DemoSession | undefined {
    const raw = request.cookies[cookieName(id)];
    if (!raw) return undefined;
    try {
      return JSON.parse(deps.secrets.open(raw)) as DemoSession;
    } catch {
      return undefined;
    }
  }
  function write(reply: FastifyReply, id: string, session: DemoSession | undefined) {
    if (!session) reply.clearCookie(cookieName(id), { path: `/demo/${id}` });
    else
      reply.setCookie(cookieName(id), deps.secrets.seal(JSON.stringify(session)), {
        path: `/demo/${id}`,
        httpOnly: true,
        sameSite: 'lax',
        secure: deps.secure,
      });
  }
  const demo = (id: string) => DEMO_SERVICES.find((d) => d.clientId === id);

  app.get('/demo', async (request, reply) => {
    const ui = deps.ui(request, reply);
    return ui.render(
      200,
      ui.t('demo.index_title'),
      html`<p>${ui.t('demo.index_explain')}</p><ul>${DEMO_SERVICES.map(
        (d) => html`<li><a href="/demo/${d.clientId}">${d.name}</a></li>`,
      )}</ul>
<p class="hint">${ui.t('demo.apps_note')}</p>`,
    );
  });

  app.get<{ Params: { id: string } }>('/demo/:id', async (request, reply) => {
    const d = demo(request.params.id);
    if (!d) return reply.callNotFound();
    const ui = deps.ui(request, reply);
    let session = read(request, d.clientId);
    if (session?.stage === 'in' && session.sid && loggedOutSids.has(session.sid)) {
      write(reply, d.clientId, undefined);
      session = undefined;
    }
    if (session?.stage !== 'in') {
      return ui.render(
        200,
        d.name,
        html`<p>${d.description}</p>
<p><a class="button" id="login" href="/demo/${d.clientId}/login">${ui.t('demo.sign_in')}</a></p>
<p><a href="/demo">${ui.t('demo.all')}</a></p>`,
      );
    }
    const claims = Object.entries(session.userinfo);
    return ui.render(
      200,
      d.name,
      html`<p class="notice" role="status">${ui.t('demo.signed_in')}</p>
<h2>${ui.t('demo.claims')}</h2>
<dl class="claims" id="claims">${claims.map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}</dl>
<h2>${ui.t('demo.id_token')}</h2>
<dl class="claims" id="id-token">${Object.entries(session.claims).map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}</dl>
<div class="actions">
  <a class="button secondary" href="/demo/${d.clientId === 'demo-servico' ? 'demo-segundo' : 'demo-servico'}">${ui.t('demo.other')}</a>
  <a class="button" id="logout" href="/demo/${d.clientId}/logout">${ui.t('demo.sign_out')}</a>
</div>`,
    );
  });

  app.get<{ Params: { id: string } }>('/demo/:id/login', async (request, reply) => {
    const d = demo(request.params.id);
    if (!d) return reply.callNotFound();
    const ui = deps.ui(request, reply);
    const c = await config(d.clientId);
    const verifier = oidcClient.randomPKCECodeVerifier();
    const state = oidcClient.randomState();
    const nonce = oidcClient.randomNonce();
    write(reply, d.clientId, { stage: 'login', verifier, state, nonce });
    const url = oidcClient.buildAuthorizationUrl(c, {
      redirect_uri: `${deps.issuer}/demo/${d.clientId}/callback`,
      scope: 'openid profile email phone cpf',
      code_challenge: await oidcClient.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ui_locales: ui.locale,
    });
    return reply.redirect(url.href, 303);
  });

  app.get<{ Params: { id: string } }>('/demo/:id/callback', async (request, reply) => {
    const d = demo(request.params.id);
    if (!d) return reply.callNotFound();
    const ui = deps.ui(request, reply);
    const session = read(request, d.clientId);
    // Back from Cidadela without this service's cookie (another browser, cookies cleared, or the
    // sign-in started too long ago): say so and offer to start again, rather than drop silently.
    if (session?.stage !== 'login') {
      return ui.render(
        400,
        d.name,
        html`<p role="alert">${ui.t('demo.lost_session')}</p>
<div class="actions"><a class="button" href="/demo/${d.clientId}/login">${ui.t('demo.start_again')}</a><a class="button secondary" href="/demo/${d.clientId}">${ui.t('demo.back')}</a></div>`,
      );
    }
    const c = await config(d.clientId);
    const current = new URL(request.url, deps.issuer);
    try {
      const tokens = await oidcClient.authorizationCodeGrant(c, current, {
        pkceCodeVerifier: session.verifier,
        expectedState: session.state,
        expectedNonce: session.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      const userinfo = await oidcClient.fetchUserInfo(c, tokens.access_token, claims.sub);
      write(reply, d.clientId, {
        stage: 'in',
        claims: { ...claims },
        userinfo: { ...userinfo },
        idToken: tokens.id_token!,
        ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}),
      });
      return reply.redirect(`/demo/${d.clientId}`, 303);
    } catch (error) {
      write(reply, d.clientId, undefined);
      const code = (error as { error?: string }).error ?? 'error';
      return ui.render(
        400,
        d.name,
        html`<p role="alert">${code === 'access_denied' ? ui.t('demo.denied') : ui.t('demo.failed')}</p>
<p><a href="/demo/${d.clientId}">${ui.t('demo.back')}</a></p>`,
      );
    }
  });

  app.get<{ Params: { id: string } }>('/demo/:id/logout', async (request, reply) => {
    const d = demo(request.params.id);
    if (!d) return reply.callNotFound();
    const session = read(request, d.clientId);
    write(reply, d.clientId, undefined);
    const c = await config(d.clientId);
    const url = oidcClient.buildEndSessionUrl(c, {
      post_logout_redirect_uri: `${deps.issuer}/demo/${d.clientId}`,
      ...(session?.stage === 'in' ? { id_token_hint: session.idToken } : { client_id: d.clientId }),
    });
    return reply.redirect(url.href, 303);
  });

  app.post<{ Params: { id: string }; Body: { logout_token?: string } }>(
    '/demo/:id/backchannel-logout',
    { config: { csrf: false } },
    async (request, reply) => {
      const d = demo(request.params.id);
      if (!d) return reply.callNotFound();
      try {
        const { payload } = await jwtVerify(String(request.body?.logout_token ?? ''), jwks, {
          issuer: deps.issuer,
          audience: d.clientId,
          typ: 'logout+jwt',
        });
        const events = payload.events as Record<string, unknown> | undefined;
        if (!events?.['http://schemas.openid.net/event/backchannel-logout'] || payload.nonce) throw new Error('not a logout token');
        if (typeof payload.sid === 'string') loggedOutSids.add(payload.sid);
        return reply.status(200).send();
      } catch {
        return reply.status(400).send({ error: 'invalid_request' });
      }
    },
  );
}
