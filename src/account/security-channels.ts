import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { retryAfter } from '../flows/interaction-kit.ts';
import { CODE_MESSAGES } from '../flows/registration/email-confirmation-routes.ts';
import { lockCitizen } from '../identity/citizen-store.ts';
import { isEmail } from '../identity/field-catalog.ts';
import { addIdentifier, listIdentifiers, removeIdentifier } from '../identity/identifiers.ts';
import { enqueueMail } from '../messaging/message-queue.ts';
import { renderMail } from '../messaging/templates.ts';
import type { CodeCheck } from '../methods/code/code-mechanism.ts';
import { maskEmail, maskPhone } from '../methods/recovery-strategy.ts';
import { AppError } from '../platform/errors.ts';
import { formatClock } from '../platform/i18n.ts';
import { RATE_LIMITS } from '../platform/rate-limit.ts';
import { html } from '../web/html.ts';
import { csrfField, field } from '../web/layout.ts';
import type { Ui } from '../web/request-context.ts';
import { RECENT_SIGN_IN_SECONDS } from './profile-routes.ts';
import { backToSecurity, type SecurityDeps, type SignedIn } from './security-routes.ts';

type Problem = {
  status: number;
  field: 'email' | 'password' | 'code' | 'general';
  error: string;
  params?: Record<string, string | number>;
};

const recent = (authTime: number | undefined) =>
  typeof authTime === 'number' && Date.now() / 1000 - authTime <= RECENT_SIGN_IN_SECONDS;
const text = (body: unknown, key: string) => {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' ? v : '';
};

/**
 * The recovery channels: the primary e-mail and mobile (changed on their own pages, each proven by a
 * code), and alternate e-mails, which count for recovery only once proven by a code sent to them.
 * Adding or removing one asks the password again unless the sign-in is fresh, and the account's
 * proven addresses hear of it (the removed one included).
 */
export function registerChannelRoutes(app: FastifyInstance, deps: SecurityDeps) {
  /** The password again, unless the sign-in is fresh; throttled like a sign-in. */
  async function reauthenticate(
    request: FastifyRequest,
    reply: FastifyReply,
    me: SignedIn,
  ): Promise<Problem | undefined> {
    if (recent(me.authTime)) return undefined;
    const password = text(request.body, 'password');
    if (!password) return { status: 422, field: 'password', error: 'security.current_required' };
    const { citizen } = me;
    const checked = await deps.passwordSignIn.attempt({
      identifier: citizen.cpf ?? citizen.email ?? citizen.phoneNumber ?? '',
      password: password.slice(0, 1000),
      ip: request.ip,
    });
    if (checked.ok && checked.citizen.id === citizen.id) return undefined;
    if (!checked.ok && checked.code === 'login.throttled') {
      retryAfter(reply, checked.retryAt);
      return {
        status: 429,
        field: 'password',
        error: 'login.throttled',
        params: { time: formatClock(checked.retryAt, deps.ui(request, reply).locale) },
      };
    }
    return { status: 401, field: 'password', error: 'security.current_wrong' };
  }

  async function page(
    request: FastifyRequest,
    reply: FastifyReply,
    me: SignedIn,
    problem?: Problem,
    typed = '',
  ) {
    // (`typed`: the address the add form is shown again with.)
    const ui = deps.ui(request, reply);
    const { t } = ui;
    const citizen = (await deps.citizens.findById(me.citizen.id)) ?? me.citizen;
    const primary = citizen.email?.toLowerCase();
    const alternates = (await listIdentifiers(deps.db, citizen.id)).filter(
      (i) => i.kind === 'email' && i.value.toLowerCase() !== primary,
    );
    const pending = await deps.codes.pending({ purpose: 'alternate_email', citizenId: citizen.id });
    const askPassword = !recent(me.authTime);
    const err = (f: Problem['field']) =>
      problem?.field === f ? t(problem.error, problem.params) : undefined;
    const passwordField = () =>
      askPassword
        ? field({
            t,
            name: 'password',
            label: t('security.current_password'),
            hint: t('security.reauth_hint'),
            type: 'password',
            error: err('password'),
            autocomplete: 'current-password',
            maxlength: 1000,
          })
        : '';
    const notice = (request.query as Record<string, string>).feito;
    const notices: Record<string, string> = {
      adicionado: 'security.alternate_added',
      removido: 'security.alternate_removed',
    };
    return ui.render(
      problem?.status ?? 200,
      t('security.channels_title'),
      html`${backToSecurity(t)}
${notice && notices[notice] ? html`<p class="notice" role="status">${t(notices[notice]!)}</p>` : ''}
${problem?.field === 'general' ? html`<div class="errors" role="alert"><p>${t(problem.error, problem.params)}</p></div>` : ''}
<p>${t('security.channels_explain')}</p>
<h2>${t('security.primary_title')}</h2>
<ul class="data-list">
  <li class="data-item"><p>${t('field.email.label')}: <strong>${citizen.email ? maskEmail(citizen.email) : '—'}</strong> ${citizen.email ? html`<span class="tag">${t(citizen.emailVerified ? 'security.verified' : 'security.unverified')}</span>` : ''}</p><p><a href="/conta/email">${t('profile.change_email')}</a></p></li>
  <li class="data-item"><p>${t('field.phone_number.label')}: <strong>${citizen.phoneNumber ? maskPhone(citizen.phoneNumber) : '—'}</strong> ${citizen.phoneNumber ? html`<span class="tag">${t(citizen.phoneNumberVerified ? 'security.verified' : 'security.unverified')}</span>` : ''}</p><p><a href="/conta/dados">${t('account.edit_data')}</a></p></li>
</ul>
<h2>${t('security.alternates_title')}</h2>
${
  alternates.length === 0
    ? html`<p>${t('security.alternates_none')}</p>`
    : html`<ul class="data-list">${alternates.map(
        (a, i) => html`<li class="data-item">
  <p><strong>${a.value}</strong> <span class="tag">${t(a.verified ? 'security.verified' : 'security.unverified')}</span></p>
  <form method="post" action="/conta/seguranca/contatos/remover" novalidate>
    ${csrfField(ui.csrf())}
    <input type="hidden" name="email" value="${a.value}">
    ${askPassword ? html`<div class="field"><label for="password-r${i}">${t('security.current_password')}</label><input id="password-r${i}" name="password" type="password" autocomplete="current-password" maxlength="1000" required></div>` : ''}
    <button type="submit" class="secondary">${t('security.alternate_remove', { email: a.value })}</button>
  </form>
</li>`,
      )}</ul>`
}
${pending ? html`<p class="notice" role="status">${t('security.alternate_pending', { email: maskEmail(pending.address) })} <a href="/conta/seguranca/contatos/confirmar">${t('security.alternate_enter_code')}</a></p>` : ''}
<h2>${t('security.alternate_add_title')}</h2>
<form method="post" action="/conta/seguranca/contatos" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'email', label: t('security.alternate_email'), hint: t('security.alternate_hint'), type: 'email', value: problem && typed ? typed : '', error: err('email'), autocomplete: 'email', maxlength: 254 })}
  ${passwordField()}
  <div class="actions"><button type="submit">${t('profile.send_code')}</button></div>
</form>`,
    );
  }

  app.get('/conta/seguranca/contatos', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    return page(request, reply, me);
  });

  app.post<{ Body: Record<string, unknown> }>('/conta/seguranca/contatos', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const raw = text(request.body, 'email').trim();
    if (raw.length > 254)
      return page(request, reply, me, { status: 422, field: 'email', error: 'security.email_too_long' });
    if (!isEmail(raw))
      return page(request, reply, me, { status: 422, field: 'email', error: 'field.email.invalid' }, raw);
    const citizen = me.citizen;
    const mine = (await listIdentifiers(deps.db, citizen.id)).some(
      (i) => i.kind === 'email' && i.verified && i.value.toLowerCase() === raw.toLowerCase(),
    );
    if (mine || citizen.email?.toLowerCase() === raw.toLowerCase())
      return page(
        request,
        reply,
        me,
        { status: 422, field: 'email', error: 'security.alternate_already' },
        raw,
      );
    const denied = await reauthenticate(request, reply, me);
    if (denied) return page(request, reply, me, denied, raw);
    // Counted before the address is looked up: "taken" says another account has it, so asking is
    // limited like sending (five a day), not a free way to walk through addresses.
    const allowed = await deps.rateLimiter.hit(RATE_LIMITS.alternateEmailsPerCitizen, citizen.id);
    const owner = allowed.allowed ? await deps.citizens.findByIdentifier(raw) : undefined;
    if (owner && owner.id !== citizen.id)
      return page(request, reply, me, { status: 409, field: 'email', error: 'register.email_taken' }, raw);
    const issued = allowed.allowed
      ? await deps.db.transaction().execute((trx) =>
          deps.codes.issue(trx, {
            purpose: 'alternate_email',
            channel: 'email',
            citizenId: citizen.id,
            address: raw,
            t: ui.t,
          }),
        )
      : ({ ok: false, retryAt: allowed.retryAt } as const);
    if (!issued.ok) {
      // An e-mail is never refused by country (that is SMS_COUNTRIES), only by the limits.
      if ('retryAt' in issued) retryAfter(reply, issued.retryAt);
      return page(request, reply, me, { status: 429, field: 'email', error: 'email_code.send_limit' }, raw);
    }
    deps.mailQueued();
    return reply.redirect('/conta/seguranca/contatos/confirmar', 303);
  });

  function codeForm(
    ui: Ui,
    status: number,
    email: string,
    error?: string,
    params?: Record<string, string | number>,
  ) {
    const { t } = ui;
    return ui.render(
      status,
      t('security.alternate_confirm_title'),
      html`<p>${t('email_code.sent_to', { email: maskEmail(email) })}</p>
<form method="post" action="/conta/seguranca/contatos/confirmar" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'code', label: t('email_code.code'), hint: t('email_code.code_hint'), error: error ? t(error, params) : undefined, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 7 })}
  <div class="actions"><button type="submit">${t('email_code.submit')}</button></div>
</form>
<p><a href="/conta/seguranca/contatos">${t('security.back_channels')}</a></p>`,
    );
  }

  app.get('/conta/seguranca/contatos/confirmar', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const pending = await deps.codes.pending({ purpose: 'alternate_email', citizenId: me.citizen.id });
    if (!pending) return reply.redirect('/conta/seguranca/contatos', 303);
    return codeForm(deps.ui(request, reply), 200, pending.address);
  });

  app.post<{ Body: Record<string, unknown> }>(
    '/conta/seguranca/contatos/confirmar',
    async (request, reply) => {
      const me = await deps.signedIn(request, reply);
      if (!me) return deps.signIn(reply);
      const ui = deps.ui(request, reply);
      const pending = await deps.codes.pending({ purpose: 'alternate_email', citizenId: me.citizen.id });
      if (!pending) return reply.redirect('/conta/seguranca/contatos', 303);
      const typed = text(request.body, 'code').slice(0, 20);
      const seen = { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
      let result: CodeCheck<'alternate_email'>;
      try {
        result = await deps.db.transaction().execute(async (trx) => {
          const checked = await deps.codes.check({ id: pending.id, purpose: 'alternate_email', typed }, trx);
          if (!checked.ok) return checked;
          const citizen = await lockCitizen(trx, checked.proof.citizenId);
          if (!citizen) throw new AppError('interaction.expired', 400);
          const address = checked.proof.address;
          await removeIdentifier(trx, citizen.id, { kind: 'email', value: address });
          await addIdentifier(trx, citizen.id, { kind: 'email', value: address, verified: true });
          await deps.securityEvents.record(
            {
              citizenId: citizen.id,
              kind: 'channel_verified',
              detail: { channel: 'alternate_email', masked: maskEmail(address) },
              ...seen,
            },
            trx,
          );
          // The account's other proven addresses hear of a new way into it.
          const { t } = deps.translatorFor(citizen);
          for (const to of await otherProvenEmails(trx, citizen.id, address))
            await enqueueMail(
              trx,
              renderMail(t, 'channel_added', to, {
                email: maskEmail(address),
                link: `${deps.publicUrl}/conta/seguranca/contatos`,
              }),
            );
          return checked;
        });
      } catch (error) {
        if (error instanceof AppError && error.code === 'identifier.email_taken')
          return codeForm(ui, 409, pending.address, 'register.email_taken');
        throw error;
      }
      if (!result.ok)
        return codeForm(
          ui,
          422,
          pending.address,
          CODE_MESSAGES[result.code]!,
          result.code === 'code.invalid' ? { tries: result.triesLeft } : undefined,
        );
      deps.mailQueued();
      return reply.redirect('/conta/seguranca/contatos?feito=adicionado', 303);
    },
  );

  app.post<{ Body: Record<string, unknown> }>('/conta/seguranca/contatos/remover', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const email = text(request.body, 'email').trim();
    const citizen = me.citizen;
    const alternate = (await listIdentifiers(deps.db, citizen.id)).find(
      (i) =>
        i.kind === 'email' &&
        i.value.toLowerCase() === email.toLowerCase() &&
        i.value.toLowerCase() !== citizen.email?.toLowerCase(),
    );
    if (!email || email.length > 254 || !alternate)
      return page(request, reply, me, { status: 404, field: 'general', error: 'security.alternate_unknown' });
    const denied = await reauthenticate(request, reply, me);
    if (denied) return page(request, reply, me, { ...denied, field: 'general' });
    const seen = { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
    await deps.db.transaction().execute(async (trx) => {
      const locked = await lockCitizen(trx, citizen.id);
      if (!locked) return;
      await removeIdentifier(trx, citizen.id, { kind: 'email', value: alternate.value });
      await deps.securityEvents.record(
        {
          citizenId: citizen.id,
          kind: 'channel_removed',
          detail: { channel: 'alternate_email', masked: maskEmail(alternate.value) },
          ...seen,
        },
        trx,
      );
      // The removed address hears of it (it may be the owner's, and someone else removing it),
      // and so do the account's other proven addresses.
      const { t } = deps.translatorFor(locked);
      const params = { email: maskEmail(alternate.value), link: `${deps.publicUrl}/recuperar` };
      const to = new Set([
        ...(alternate.verified ? [alternate.value] : []),
        ...(await otherProvenEmails(trx, citizen.id, alternate.value)),
      ]);
      for (const address of to) await enqueueMail(trx, renderMail(t, 'channel_removed', address, params));
    });
    deps.mailQueued();
    return reply.redirect('/conta/seguranca/contatos?feito=removido', 303);
  });

  /** The account's proven e-mails other than `except`. */
  async function otherProvenEmails(trx: SecurityDeps['db'], citizenId: string, except: string) {
    return (await listIdentifiers(trx, citizenId))
      .filter((i) => i.kind === 'email' && i.verified && i.value.toLowerCase() !== except.toLowerCase())
      .map((i) => i.value);
  }
}
