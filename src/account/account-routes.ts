import type { FastifyInstance } from 'fastify';
import type { Translate } from '../platform/i18n.ts';
import type { ConsentStore } from '../consent/consent-store.ts';
import type { Db } from '../db/database.ts';
import type { CitizenStore } from '../identity/citizen-store.ts';
import { isForeign } from '../identity/citizen-store.ts';
import type { DeletionRequests } from '../identity/deletion-requests.ts';
import { createTrustLevels } from '../identity/trust-levels.ts';
import type { CodeMechanism } from '../methods/code/code-mechanism.ts';
import type { PasswordSignIn } from '../methods/password/password-sign-in.ts';
import type { Oidc } from '../oidc/provider.ts';
import type { RateLimiter } from '../platform/rate-limit.ts';
import { html } from '../web/html.ts';
import { csrfField } from '../web/layout.ts';
import type { UiFactory } from '../web/request-context.ts';
import { accountNav, sectionCards } from './account-sections.ts';
import { createAccountSession } from './account-session.ts';
import { registerCpfRoutes } from './cpf-routes.ts';
import { registerDeletionCodeRoutes } from './deletion-code-routes.ts';
import { formatDay } from './privacy-pages.ts';
import { registerPrivacyRoutes } from './privacy-routes.ts';
import { registerProfileRoutes } from './profile-routes.ts';
import { loweredNotice } from './recovery-settings-pages.ts';
import { loweredSince, type RecoverySettingsDeps, registerRecoverySettingsRoutes } from './recovery-settings-routes.ts';
import { registerSecurityRoutes, type SecurityDeps } from './security-routes.ts';
import { registerServicesRoutes } from './services-routes.ts';
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
  deletions: DeletionRequests;
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
 * The citizen's own pages: a hub with the account's sections (account-sections.ts), each section's
 * pages in its own module. Signed in through the provider's session (SSO), like any service.
 */
export function registerAccountRoutes(app: FastifyInstance, deps: Deps) {
  const { ui } = deps;
  const account = createAccountSession(deps);
  const { signIn } = account;

  registerProfileRoutes(app, {
    db: deps.db,
    ui,
    citizens: deps.citizens,
    codes: deps.codes,
    rateLimiter: deps.rateLimiter,
    mailQueued: deps.mailQueued,
    translator: deps.translator,
    signedIn: async (request, reply) => {
      const me = await account.signedIn(request, reply);
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
      const me = await account.signedIn(request, reply);
      return me ? { citizenId: me.citizen.id } : undefined;
    },
    signIn,
  });

  registerServicesRoutes(app, { db: deps.db, ui, consents: deps.consents, account });
  registerPrivacyRoutes(app, {
    db: deps.db,
    ui,
    consents: deps.consents,
    deletions: deps.deletions,
    passwordSignIn: deps.passwordSignIn,
    mailQueued: deps.mailQueued,
    account,
  });

  registerDeletionCodeRoutes(app, { db: deps.db, ui, deletions: deps.deletions, codes: deps.codes, mailQueued: deps.mailQueued, account });

  registerRecoverySettingsRoutes(app, {
    ...deps.recoverySettings,
    db: deps.db,
    ui,
    citizens: deps.citizens,
    passwordSignIn: deps.passwordSignIn,
    signedIn: async (request, reply) => {
      const me = await account.signedIn(request, reply);
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
      const me = await account.signedIn(request, reply);
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
      const me = await account.signedIn(request, reply);
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
    const me = await account.signedIn(request, reply);
    if (!me) return signIn(reply);
    const u = ui(request, reply);
    const { t } = u;
    const companies = await createTrustLevels(deps.db).companies(me.citizen.id);
    const pending = await deps.deletions.pending(me.citizen.id);
    const query = request.query as Record<string, string>;
    return u.render(
      200,
      t('account.title'),
      html`${accountNav(t)}
<p>${t('account.hello', { name: me.citizen.socialName ?? me.citizen.name })}</p>
${query.cpf === '1' ? html`<p class="notice" role="status">${t('account.cpf_added')}</p>` : ''}
${query.exclusao === 'cancelada' ? html`<p class="notice" role="status">${t('privacy.delete_cancelled')}</p>` : ''}
${
  pending
    ? html`<div class="notice warning" role="status"><p>${t('privacy.delete_pending', { date: formatDay(pending.dueAt, u.locale) })}</p>
<form method="post" action="/conta/privacidade/excluir/cancelar">${csrfField(u.csrf())}<button type="submit">${t('privacy.delete_cancel')}</button></form></div>`
    : ''
}
${sectionCards(t)}
<h2>${t('account.level_title')}</h2>
<p>${t('account.level', { level: t(`level.${me.citizen.trustLevel}`) })}</p>
${loweredNotice(u, await loweredSince(deps.db, deps.recoverySettings.recoveries, me.citizen))}
<p><a href="/conta/recuperacao">${t('account.recovery_settings')}</a></p>
${companies.length
  ? html`<h2>${t('account.companies_title')}</h2>
<ul class="data-list">${companies.map((c) => html`<li class="data-item"><p class="data-name"><strong>${c.name}</strong></p><p>${t('account.company_cnpj', { cnpj: c.cnpj })}</p></li>`)}</ul>`
  : ''}
${isForeign(me.citizen) ? html`<p><a class="button secondary" href="/conta/cpf">${t('account.cpf_add')}</a></p>` : ''}
<p><a href="${account.logoutUrl()}">${t('account.sign_out')}</a></p>`,
    );
  });
}
