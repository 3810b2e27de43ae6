import type { Translate } from '../platform/i18n.ts';
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsentStore } from '../consent/consent-store.ts';
import type { Db } from '../db/database.ts';
import type { CitizenStore } from '../identity/citizen-store.ts';
import { html } from '../web/html.ts';
import { csrfField } from '../web/layout.ts';
import type { UiFactory } from '../web/request-context.ts';
import type { CodeMechanism } from '../methods/code/code-mechanism.ts';
import type { PasswordSignIn } from '../methods/password/password-sign-in.ts';
import type { RateLimiter } from '../platform/rate-limit.ts';
import type { Oidc } from '../oidc/provider.ts';
import { createTrustLevels } from '../identity/trust-levels.ts';
import { ACCOUNT_CLIENT_ID } from './account-services.ts';
import { registerProfileRoutes } from './profile-routes.ts';
import { registerCpfRoutes } from './cpf-routes.ts';
import { isForeign } from '../identity/citizen-store.ts';
import { loweredNotice } from './recovery-settings-pages.ts';
import { loweredSince, type RecoverySettingsDeps, registerRecoverySettingsRoutes } from './recovery-settings-routes.ts';
import { registerSecurityRoutes, type SecurityDeps } from './security-routes.ts';
import { registerFactorRoutes } from './security-factors.ts';
import type { TotpCredentials } from '../methods/totp/totp-credential.ts';
import type { PasskeyCeremonies } from '../methods/passkey/passkey-ceremonies.ts';
import type { PasskeyStore } from '../methods/passkey/passkey-store.ts';
import type { Citizen } from '../identity/citizen-store.ts';

type Deps = {
  db: Db;
  oidc: Oidc;
  ui: UiFactory;
  issuer: string;
  citizens: CitizenStore;
  consents: ConsentStore;
  codes: CodeMechanism;
  rateLimiter: RateLimiter;
  passwordSignIn: PasswordSignIn;
  mailQueued: () => void;
  /** The citizen's preferred language for mail and SMS. */
  translator(locale: string | null): Translate;
  recoverySettings: RecoverySettingsDeps;
  /** What the security section (/conta/seguranca) needs beyond the above. */
  security: Omit<SecurityDeps, 'db' | 'ui' | 'citizens' | 'codes' | 'rateLimiter' | 'passwordSignIn' | 'mailQueued' | 'signedIn' | 'signIn' | 'publicUrl'>;
  totp: TotpCredentials;
  passkeys: PasskeyCeremonies;
  passkeyStore: PasskeyStore;
  /** The citizen's own language, for what is sent to them. */
  translatorFor(citizen: Citizen): { t: Translate; locale: string };
};

/**
 * The citizen's own pages: which services receive their data and what, revocation, and the export
 * of their consent history. Signed in through the provider's session (SSO), like any service.
 */
export function registerAccountRoutes(app: FastifyInstance, deps: Deps) {
  const { ui, consents } = deps;

  async function signedIn(request: FastifyRequest, reply: FastifyReply) {
    const session = await deps.oidc.sessionAccount(request.raw, reply.raw);
    if (!session) return undefined;
    const citizen = await deps.citizens.findById(session.accountId);
    if (!citizen || citizen.status !== 'active') return undefined;
    return { citizen, session };
  }

  /** `again`: the password (and second step) even over a live session, as for a sensitive change. */
  function signIn(reply: FastifyReply, again = false) {
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
  }

  registerProfileRoutes(app, {
    db: deps.db,
    ui,
    citizens: deps.citizens,
    codes: deps.codes,
    rateLimiter: deps.rateLimiter,
    mailQueued: deps.mailQueued,
    translator: deps.translator,
    signedIn: async (request, reply) => {
      const me = await signedIn(request, reply);
      return me ? { citizenId: me.citizen.id, authTime: me.session.authTime } : undefined;
    },
    passwordSignIn: deps.passwordSignIn,
    signIn,
  });

  registerCpfRoutes(app, {
    db: deps.db,
    ui,
    citizens: deps.citizens,
    rateLimiter: deps.rateLimiter,
    signedIn: async (request, reply) => {
      const me = await signedIn(request, reply);
      return me ? { citizenId: me.citizen.id } : undefined;
    },
    signIn,
  });

  registerRecoverySettingsRoutes(app, {
    ...deps.recoverySettings,
    db: deps.db,
    ui,
    citizens: deps.citizens,
    passwordSignIn: deps.passwordSignIn,
    signedIn: async (request, reply) => {
      const me = await signedIn(request, reply);
      return me ? { citizenId: me.citizen.id, authTime: me.session.authTime } : undefined;
    },
    signIn,
  });

  registerSecurityRoutes(app, {
    ...deps.security,
    db: deps.db,
    ui,
    publicUrl: deps.issuer,
    citizens: deps.citizens,
    codes: deps.codes,
    rateLimiter: deps.rateLimiter,
    passwordSignIn: deps.passwordSignIn,
    mailQueued: deps.mailQueued,
    signedIn: async (request, reply) => {
      const me = await signedIn(request, reply);
      return me ? { citizen: me.citizen, sessionUid: me.session.uid, authTime: me.session.authTime } : undefined;
    },
    signIn,
  });

  registerFactorRoutes(app, {
    db: deps.db,
    ui,
    citizens: deps.citizens,
    totp: deps.totp,
    passkeys: deps.passkeys,
    passkeyStore: deps.passkeyStore,
    translatorFor: deps.translatorFor,
    mailQueued: deps.mailQueued,
    signedIn: async (request, reply) => {
      const me = await signedIn(request, reply);
      return me ? { citizenId: me.citizen.id, authTime: me.session.authTime } : undefined;
    },
    signIn,
  });

  // The authorization response only matters for the session it leaves behind; the code is not used.
  app.get('/conta/callback', async (_request, reply) => reply.redirect('/conta', 303));

  app.get('/conta/saiu', async (request, reply) => {
    const u = ui(request, reply);
    return u.render(200, u.t('logout.done_title'), html`<p>${u.t('logout.done')}</p><p><a href="/conta">${u.t('account.sign_in_again')}</a></p><p><a href="/recuperar">${u.t('account.recover')}</a></p>`);
  });

  app.get('/conta', async (request, reply) => {
    const me = await signedIn(request, reply);
    if (!me) return signIn(reply);
    const u = ui(request, reply);
    const { t } = u;
    const live = await consents.live(me.citizen.id);
    const trust = createTrustLevels(deps.db);
    const companies = await trust.companies(me.citizen.id);
    const revoked = (request.query as Record<string, string>).revogado;
    const logout = new URL('/oidc/session/end', deps.issuer);
    logout.search = new URLSearchParams({ client_id: ACCOUNT_CLIENT_ID, post_logout_redirect_uri: `${deps.issuer}/conta/saiu` }).toString();
    return u.render(
      200,
      t('account.title'),
      html`<p>${t('account.hello', { name: me.citizen.socialName ?? me.citizen.name })}</p>
${revoked ? html`<p class="notice" role="status">${t('account.revoked')}</p>` : ''}
${(request.query as Record<string, string>).escrita === '0' ? html`<p class="notice" role="status">${t('account.write_revoked')}</p>` : ''}
${(request.query as Record<string, string>).cpf === '1' ? html`<p class="notice" role="status">${t('account.cpf_added')}</p>` : ''}
<p><a class="button" href="/conta/dados">${t('account.edit_data')}</a> <a class="button secondary" href="/conta/seguranca">${t('security.title')}</a></p>
<h2>${t('account.level_title')}</h2>
<p>${t('account.level', { level: t(`level.${me.citizen.trustLevel}`) })}</p>
${loweredNotice(u, await loweredSince(deps.db, deps.recoverySettings.recoveries, me.citizen))}
<p><a href="/conta/recuperacao">${t('account.recovery_settings')}</a></p>
${companies.length
  ? html`<h2>${t('account.companies_title')}</h2>
<ul class="data-list">${companies.map((c) => html`<li class="data-item"><p class="data-name"><strong>${c.name}</strong></p><p>${t('account.company_cnpj', { cnpj: c.cnpj })}</p></li>`)}</ul>`
  : ''}
${isForeign(me.citizen) ? html`<p><a class="button secondary" href="/conta/cpf">${t('account.cpf_add')}</a></p>` : ''}
<h2>${t('account.services_title')}</h2>
${
  live.length === 0
    ? html`<p>${t('account.no_services')}</p>`
    : html`<ul class="data-list">${live.map(
        (c) => html`<li class="data-item">
  <p class="data-name"><strong>${c.name}</strong>${c.client_type !== 'confidential' ? html` <span class="tag">${t(`service.kind.${c.client_type}`)}</span>` : ''}</p>
  ${c.description ? html`<p>${c.description}</p>` : ''}
  <p>${t('account.receives')}: ${c.fields_shared.length ? c.fields_shared.map((k) => t(`field.${k}.label`)).join(', ') : t('account.receives_nothing')}</p>
  <p class="hint">${t('account.since', { date: new Intl.DateTimeFormat(u.locale, { dateStyle: 'long', timeZone: 'America/Sao_Paulo' }).format(new Date(c.granted_at)) })}</p>
  ${
    c.write_back
      ? html`<p>${t('account.may_write')}</p>
  <form method="post" action="/conta/servicos/${c.client_id}/escrita/revogar">
    ${csrfField(u.csrf())}
    <button type="submit" class="secondary">${t('account.revoke_write', { service: c.name })}</button>
  </form>`
      : ''
  }
  <form method="post" action="/conta/servicos/${c.client_id}/revogar">
    ${csrfField(u.csrf())}
    <button type="submit" class="secondary">${t('account.revoke', { service: c.name })}</button>
  </form>
</li>`,
      )}</ul>`
}
<h2>${t('account.history_title')}</h2>
<p>${t('account.history_explain')}</p>
<p><a class="button secondary" href="/conta/consentimentos.json" download>${t('account.history_download')}</a></p>
<p><a href="${logout.href}">${t('account.sign_out')}</a></p>`,
    );
  });

  // Withdrawing the whole consent, or only the write access: each a record with who and from where.
  for (const [path, withdraw, done] of [
    ['/conta/servicos/:clientId/revogar', consents.revoke, '/conta?revogado=1'],
    ['/conta/servicos/:clientId/escrita/revogar', consents.revokeWrite, '/conta?escrita=0'],
  ] as const) {
    app.post<{ Params: { clientId: string } }>(path, async (request, reply) => {
      const me = await signedIn(request, reply);
      if (!me) return signIn(reply);
      const context = {
        ip: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
        acr: me.session.acr ?? null,
        amr: me.session.amr ?? null,
      };
      await deps.db.transaction().execute((trx) => withdraw(trx, { citizenId: me.citizen.id, clientId: request.params.clientId, context }));
      return reply.redirect(done, 303);
    });
  }

  app.get('/conta/consentimentos.json', async (request, reply) => {
    const me = await signedIn(request, reply);
    if (!me) return reply.status(401).send({ error: 'not_signed_in' });
    const history = await consents.history(me.citizen.id);
    return reply
      .header('content-disposition', 'attachment; filename="consentimentos.json"')
      .type('application/json; charset=utf-8')
      .send({
        citizen: { sub: me.citizen.id },
        generatedAt: new Date().toISOString(),
        basis: 'Lei 13.709/2018 (LGPD), art. 8 §2 e art. 18 VII',
        records: history,
      });
  });
}
