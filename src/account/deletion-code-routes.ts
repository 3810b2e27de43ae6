import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.ts';
import { retryAfter } from '../flows/interaction-kit.ts';
import { CODE_MESSAGES } from '../flows/registration/email-confirmation-routes.ts';
import type { DeletionRequests } from '../identity/deletion-requests.ts';
import { enqueueMail } from '../messaging/message-queue.ts';
import type { CodeMechanism } from '../methods/code/code-mechanism.ts';
import { html } from '../web/html.ts';
import { csrfField, errorSummary, field } from '../web/layout.ts';
import type { Ui, UiFactory } from '../web/request-context.ts';
import { accountNav } from './account-sections.ts';
import type { AccountSession } from './account-session.ts';
import { formatDay } from './privacy-pages.ts';

type Deps = {
  db: Db;
  ui: UiFactory;
  deletions: DeletionRequests;
  codes: CodeMechanism;
  mailQueued: () => void;
  account: AccountSession;
};

/**
 * The other way to confirm a deletion: a code sent to the account's proven e-mail (or, without
 * one, its proven mobile number), for a citizen who signs in some other way or forgot the
 * password. The code mechanism limits the sends; a code proves this purpose only.
 */
export function registerDeletionCodeRoutes(app: FastifyInstance, deps: Deps) {
  const { ui, account, codes, deletions } = deps;

  function codeForm(u: Ui, status: number, error?: string, params?: Record<string, string | number>) {
    const { t } = u;
    const errors: Record<string, string> = error ? { code: error } : {};
    return u.render(
      status,
      t('privacy.delete_title'),
      html`${accountNav(t, 'privacidade')}
${errorSummary((key) => t(key, params), errors)}
<p>${t('privacy.delete_code_sent')}</p>
<form method="post" action="/conta/privacidade/excluir/codigo/confirmar" novalidate>
  ${csrfField(u.csrf())}
  ${field({ t: (key) => t(key, params), name: 'code', label: t('email_code.code'), hint: t('email_code.code_hint'), error, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 7 })}
  <div class="actions">
    <button type="submit" class="danger">${t('privacy.delete_confirm')}</button>
    <a class="button secondary" href="/conta/privacidade">${t('privacy.delete_keep')}</a>
  </div>
</form>`,
    );
  }

  app.post('/conta/privacidade/excluir/codigo', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    const u = ui(request, reply);
    const { citizen } = me;
    const channel =
      citizen.email && citizen.emailVerified
        ? 'email'
        : citizen.phoneNumber && citizen.phoneNumberVerified
          ? 'sms'
          : undefined;
    const address = channel === 'email' ? citizen.email : citizen.phoneNumber;
    if (!channel || !address) return reply.redirect('/conta/privacidade/excluir', 303);
    const issued = await deps.db
      .transaction()
      .execute((trx) =>
        codes.issue(trx, { purpose: 'account_deletion', channel, citizenId: citizen.id, address, t: u.t }),
      );
    if (!issued.ok) {
      // A number in a country the city does not send SMS to: the code cannot reach it.
      if (issued.code === 'code.country_disabled') return reply.redirect('/conta/privacidade/excluir', 303);
      retryAfter(reply, issued.retryAt);
      return u.render(
        429,
        u.t('privacy.delete_title'),
        html`${accountNav(u.t, 'privacidade')}<p role="alert">${u.t('email_code.send_limit')}</p><p><a href="/conta/privacidade/excluir">${u.t('privacy.delete_keep')}</a></p>`,
      );
    }
    deps.mailQueued();
    return reply.redirect('/conta/privacidade/excluir/codigo', 303);
  });

  app.get('/conta/privacidade/excluir/codigo', async (request, reply) => {
    const me = await account.signedIn(request, reply);
    if (!me) return account.signIn(reply);
    if (!(await codes.pending({ purpose: 'account_deletion', citizenId: me.citizen.id })))
      return reply.redirect('/conta/privacidade/excluir', 303);
    return codeForm(ui(request, reply), 200);
  });

  app.post<{ Body: Record<string, unknown> }>(
    '/conta/privacidade/excluir/codigo/confirmar',
    async (request, reply) => {
      const me = await account.signedIn(request, reply);
      if (!me) return account.signIn(reply);
      const u = ui(request, reply);
      const pending = await codes.pending({ purpose: 'account_deletion', citizenId: me.citizen.id });
      if (!pending) return reply.redirect('/conta/privacidade/excluir', 303);
      const typed = typeof request.body?.code === 'string' ? request.body.code.slice(0, 20) : '';
      const result = await deps.db.transaction().execute(async (trx) => {
        const checked = await codes.check({ id: pending.id, purpose: 'account_deletion', typed }, trx);
        if (!checked.ok || checked.proof.citizenId !== me.citizen.id) return checked;
        const scheduled = await deletions.request(trx, me.citizen.id, 'code');
        if (me.citizen.email)
          await enqueueMail(trx, {
            to: me.citizen.email,
            subject: u.t('mail.account_deletion.subject'),
            text: u.t('mail.account_deletion.body', { date: formatDay(scheduled.dueAt, u.locale) }),
          });
        return checked;
      });
      if (!result.ok)
        return codeForm(
          u,
          422,
          CODE_MESSAGES[result.code]!,
          result.code === 'code.invalid' ? { tries: result.triesLeft } : undefined,
        );
      deps.mailQueued();
      return reply.redirect('/conta/privacidade', 303);
    },
  );
}
