import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import type { OwedLogout } from '../identity/account-lifecycle.ts';
import type { Citizen, CitizenStore } from '../identity/citizen-store.ts';
import type { CredentialStore } from '../identity/credential-store.ts';
import type { SecurityEvents } from '../identity/security-events.ts';
import type { SessionActivityStore } from '../identity/session-activity.ts';
import type { CodeMechanism } from '../methods/code/code-mechanism.ts';
import type { PasswordHasher } from '../methods/password/password-hasher.ts';
import type { PasswordPolicy } from '../methods/password/password-policy.ts';
import type { PasswordSignIn } from '../methods/password/password-sign-in.ts';
import type { ProviderState } from '../oidc/provider-state.ts';
import type { Translate } from '../platform/i18n.ts';
import type { RateLimiter } from '../platform/rate-limit.ts';
import { html } from '../web/html.ts';
import type { Ui, UiFactory } from '../web/request-context.ts';
import { registerActivityRoutes } from './security-activity.ts';
import { registerChannelRoutes } from './security-channels.ts';
import { registerPasswordChangeRoutes } from './security-password.ts';
import { registerSessionRoutes } from './security-sessions.ts';

/** Who is signed in on this browser, and through which provider session. */
export type SignedIn = { citizen: Citizen; sessionUid: string; authTime?: number | undefined };

export type SecurityDeps = {
  db: Db;
  ui: UiFactory;
  publicUrl: string;
  citizens: CitizenStore;
  credentials: CredentialStore;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  passwordSignIn: PasswordSignIn;
  codes: CodeMechanism;
  rateLimiter: RateLimiter;
  securityEvents: SecurityEvents;
  sessionActivity: SessionActivityStore;
  provider: Pick<ProviderState, 'listSessions' | 'endSessions'>;
  /** After the commit: the back-channel logouts owed to the services of the sessions ended. */
  backchannelLogout(accountId: string, logouts: readonly OwedLogout[]): Promise<unknown>;
  /** The citizen's own language, for what is sent to them. */
  translatorFor(citizen: Citizen): { t: Translate; locale: string };
  mailQueued: () => void;
  signedIn(request: FastifyRequest, reply: FastifyReply): Promise<SignedIn | undefined>;
  signIn(reply: FastifyReply): FastifyReply;
};

/** A date and time as the citizen reads it, in the city's time zone. */
export function when(ui: Ui, date: Date | number): string {
  return new Intl.DateTimeFormat(ui.locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: 'America/Sao_Paulo',
  }).format(date);
}

/** "Chrome · Linux", or the words for an unknown browser. */
export function browserLabel(t: Translate, browser: string | null, system: string | null): string {
  const b = browser && browser !== '?' ? browser : t('security.unknown_browser');
  return system && system !== '?' ? `${b} · ${system}` : b;
}

/** Services' names by client id (the account pages' own service named as the account). */
export async function serviceNames(db: Db, clientIds: string[]): Promise<Map<string, string>> {
  if (clientIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('services')
    .select(['client_id', 'name'])
    .where('client_id', 'in', [...new Set(clientIds)])
    .execute();
  return new Map(rows.map((r) => [r.client_id, r.name]));
}

/** The link back to the section, on each of its pages. */
export const backToSecurity = (t: Translate) =>
  html`<p><a href="/conta/seguranca">${t('security.back')}</a></p>`;

/**
 * The security section of the citizen's pages (`/conta/seguranca`): change the password, see and end
 * signed-in sessions, read recent sign-ins and recovery attempts, manage recovery channels. Each
 * page is its own module; this one is the section's index.
 */
export function registerSecurityRoutes(app: FastifyInstance, deps: SecurityDeps) {
  app.get('/conta/seguranca', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const u = deps.ui(request, reply);
    const { t } = u;
    const notice = (request.query as Record<string, string>).feito;
    const notices: Record<string, string> = {
      senha: 'security.password_changed',
      sessoes: 'security.sessions_ended',
    };
    return u.render(
      200,
      t('security.title'),
      html`<p><a href="/conta">${t('security.back_account')}</a></p>
${notice && notices[notice] ? html`<p class="notice" role="status">${t(notices[notice]!)}</p>` : ''}
<p>${t('security.explain')}</p>
<ul class="data-list">
  <li class="data-item"><p class="data-name"><a href="/conta/seguranca/fatores">${t('security.factors_title')}</a></p><p>${t('security.factors_explain')}</p></li>
  <li class="data-item"><p class="data-name"><a href="/conta/seguranca/senha">${t('security.password_title')}</a></p><p>${t('security.password_explain')}</p></li>
  <li class="data-item"><p class="data-name"><a href="/conta/seguranca/sessoes">${t('security.sessions_title')}</a></p><p>${t('security.sessions_explain')}</p></li>
  <li class="data-item"><p class="data-name"><a href="/conta/seguranca/atividade">${t('security.activity_title')}</a></p><p>${t('security.activity_explain')}</p></li>
  <li class="data-item"><p class="data-name"><a href="/conta/seguranca/contatos">${t('security.channels_title')}</a></p><p>${t('security.channels_explain')}</p></li>
</ul>`,
    );
  });

  registerPasswordChangeRoutes(app, deps);
  registerSessionRoutes(app, deps);
  registerActivityRoutes(app, deps);
  registerChannelRoutes(app, deps);
}
