import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { consentedServices, recordEvent } from '../events/outbox.ts';
import { retryAfter } from '../flows/interaction-kit.ts';
import { provenAddresses } from '../flows/recovery/recovery-reset.ts';
import { lockCitizen } from '../identity/citizen-store.ts';
import { enqueueMail, enqueueSms } from '../messaging/message-queue.ts';
import { renderMail, renderSms } from '../messaging/templates.ts';
import { PASSWORD_MAX } from '../methods/password/password-policy.ts';
import { formatClock } from '../platform/i18n.ts';
import { RATE_LIMITS } from '../platform/rate-limit.ts';
import { describeBrowser } from '../platform/user-agent.ts';
import { html } from '../web/html.ts';
import { csrfField, errorSummary, field } from '../web/layout.ts';
import type { Ui } from '../web/request-context.ts';
import { backToSecurity, type SecurityDeps, type SignedIn } from './security-routes.ts';

/** What is read of a typed password: more is refused by the policy (new) or is simply wrong (current). */
const READ_MAX = 1000;

function form(ui: Ui, status: number, errors: Record<string, string> = {}, params?: Record<string, string>) {
  const { t } = ui;
  return ui.render(
    status,
    t('security.password_title'),
    html`${backToSecurity(t)}
${errorSummary(t, errors)}
<p>${t('security.password_explain')}</p>
<form method="post" action="/conta/seguranca/senha" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'current', label: t('security.current_password'), type: 'password', error: errors.current ? t(errors.current, params) : undefined, autocomplete: 'current-password', maxlength: READ_MAX })}
  ${field({ t, name: 'password', label: t('security.new_password'), hint: t('register.password_hint'), type: 'password', error: errors.password, autocomplete: 'new-password', maxlength: PASSWORD_MAX })}
  <div class="actions"><button type="submit">${t('security.password_submit')}</button></div>
</form>`,
  );
}

/**
 * Changing the password on /conta: the current one again (throttled like a sign-in), the new one by
 * registration's policy. Then, in one transaction: the new hash, every other session of the account
 * ended with its grants and tokens, a notice to every proven address in the citizen's language, the
 * CAEP credential-change event, the security record; after the commit, the back-channel logouts.
 */
export function registerPasswordChangeRoutes(app: FastifyInstance, deps: SecurityDeps) {
  app.get('/conta/seguranca/senha', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    return form(deps.ui(request, reply), 200);
  });

  app.post<{ Body: Record<string, unknown> }>('/conta/seguranca/senha', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const read = (key: string) =>
      typeof request.body?.[key] === 'string' ? (request.body[key] as string) : '';
    const current = read('current');
    const password = read('password');
    const { citizen } = me;
    if (!current) return form(ui, 422, { current: 'security.current_required' });
    // The new password first: a refusal there costs no guess of the current one.
    const problem =
      password.length > READ_MAX
        ? 'password.too_long'
        : deps.policy.check(password, {
            cpf: citizen.cpf,
            name: citizen.name,
            birthdate: citizen.birthdate,
            email: citizen.email ?? '',
          });
    if (problem) return form(ui, 422, { password: problem });
    const changes = await deps.rateLimiter.hit(RATE_LIMITS.passwordChangesPerCitizen, citizen.id);
    if (!changes.allowed) {
      retryAfter(reply, changes.retryAt);
      return form(ui, 429, { current: 'security.password_limited' });
    }
    const checked = await deps.passwordSignIn.attempt({
      identifier: citizen.cpf ?? citizen.email ?? citizen.phoneNumber ?? '',
      password: current.slice(0, READ_MAX),
      ip: request.ip,
    });
    if (!checked.ok || checked.citizen.id !== citizen.id) {
      await deps.securityEvents.record({
        citizenId: citizen.id,
        kind: 'password_changed',
        result: 'wrong_current',
        ip: request.ip,
        userAgent: request.headers['user-agent'] ?? null,
        detail: { via: 'account' },
      });
      if (!checked.ok && checked.code === 'login.throttled') {
        retryAfter(reply, checked.retryAt);
        return form(
          ui,
          429,
          { current: 'login.throttled' },
          { time: formatClock(checked.retryAt, ui.locale) },
        );
      }
      return form(ui, 401, { current: 'security.current_wrong' });
    }
    const hash = await deps.hasher.hash(password);
    const logouts = await deps.db.transaction().execute((trx) => change(trx, deps, me, hash, request));
    if (!logouts) return deps.signIn(reply);
    deps.mailQueued();
    await deps.backchannelLogout(citizen.id, logouts);
    return reply.redirect('/conta/seguranca?feito=senha', 303);
  });
}

async function change(trx: Db, deps: SecurityDeps, me: SignedIn, hash: string, request: FastifyRequest) {
  const citizen = await lockCitizen(trx, me.citizen.id);
  if (!citizen || citizen.status !== 'active') return undefined;
  await deps.credentials.set(citizen.id, 'password', { secret: hash }, trx);
  const logouts = await deps.provider.endSessions(trx, citizen.id, { exceptUid: me.sessionUid });
  await deps.sessionActivity.forget(trx, citizen.id, { exceptUid: me.sessionUid });
  const userAgent = request.headers['user-agent'] ?? null;
  const seen = { ip: request.ip, userAgent };
  await deps.securityEvents.record(
    { citizenId: citizen.id, kind: 'password_changed', detail: { via: 'account' }, ...seen },
    trx,
  );
  const ended = new Set(logouts.map((l) => l.sid)).size;
  await deps.securityEvents.record(
    { citizenId: citizen.id, kind: 'sessions_ended', detail: { by: 'citizen', count: ended }, ...seen },
    trx,
  );

  const { t, locale } = deps.translatorFor(citizen);
  const { browser, system } = describeBrowser(userAgent);
  const params = {
    when: new Intl.DateTimeFormat(locale, {
      dateStyle: 'long',
      timeStyle: 'short',
      timeZone: 'America/Sao_Paulo',
    }).format(new Date()),
    browser: browser === '?' ? t('recovery.unknown_browser') : browser,
    system: system === '?' ? '—' : system,
    link: `${deps.publicUrl}/recuperar`,
  };
  const { emails, phones } = await provenAddresses(trx, citizen);
  for (const to of emails) await enqueueMail(trx, renderMail(t, 'password_changed', to, params));
  for (const to of phones) await enqueueSms(trx, renderSms(t, 'password_changed', to, params));
  await recordEvent(trx, {
    type: 'credential.changed',
    citizenId: citizen.id,
    audience: await consentedServices(trx, citizen.id),
    credentialType: 'password',
    changeType: 'update',
    reason: 'change',
  });
  return logouts;
}
