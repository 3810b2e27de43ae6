import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { type CitizenStore, lockCitizen, writeProfile } from '../identity/citizen-store.ts';
import { normalizeCpf } from '../identity/cpf.ts';
import { takenKinds } from '../identity/identifiers.ts';
import { AppError } from '../platform/errors.ts';
import { RATE_LIMITS, type RateLimiter } from '../platform/rate-limit.ts';
import { html } from '../web/html.ts';
import { csrfField, field } from '../web/layout.ts';
import type { Ui, UiFactory } from '../web/request-context.ts';

type Deps = {
  db: Db;
  ui: UiFactory;
  citizens: CitizenStore;
  rateLimiter: RateLimiter;
  signedIn(request: FastifyRequest, reply: FastifyReply): Promise<{ citizenId: string } | undefined>;
  signIn(reply: FastifyReply): FastifyReply;
};

/**
 * A foreigner who obtains a CPF adds it here (issue 12), once: the account becomes a regular one
 * (a CPF is what makes an account Brazilian), keeping its number, password, services and consents.
 * Services whose contract asks a CPF will ask the citizen to share it at their next sign-in.
 */
export function registerCpfRoutes(app: FastifyInstance, deps: Deps) {
  function form(ui: Ui, status: number, value: string, error?: string) {
    const { t } = ui;
    return ui.render(
      status,
      t('account.cpf_title'),
      html`<p><a href="/conta">${t('profile.back')}</a></p>
<p>${t('account.cpf_explain')}</p>
<form method="post" action="/conta/cpf" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'cpf', label: t('register.cpf'), hint: t('register.cpf_hint'), value, error, inputmode: 'numeric', autocomplete: 'off', maxlength: 14 })}
  <div class="actions"><button type="submit">${t('account.cpf_submit')}</button></div>
</form>`,
    );
  }

  app.get('/conta/cpf', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const citizen = await deps.citizens.findById(me.citizenId);
    // A CPF never changes once the account has one.
    if (citizen?.cpf) return reply.redirect('/conta/dados', 303);
    return form(deps.ui(request, reply), 200, '');
  });

  app.post<{ Body: Record<string, unknown> }>('/conta/cpf', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const typed = typeof request.body?.cpf === 'string' ? request.body.cpf.slice(0, 20).trim() : '';
    const cpf = normalizeCpf(typed);
    if (!typed) return form(ui, 422, typed, 'register.cpf_required');
    if (!cpf) return form(ui, 422, typed, 'register.cpf_invalid');
    // Each try tells whether a CPF has an account (as registration does, decision 6): few per day.
    const limited = await deps.rateLimiter.hit(RATE_LIMITS.cpfAdditions, me.citizenId);
    if (!limited.allowed) return form(ui, 429, typed, 'account.cpf_limited');
    try {
      const outcome = await deps.db.transaction().execute(async (trx) => {
        const citizen = await lockCitizen(trx, me.citizenId);
        if (!citizen) throw new AppError('interaction.expired', 400);
        if (citizen.cpf) return 'had' as const;
        if ((await takenKinds(trx, [{ kind: 'cpf', value: cpf }], citizen.id)).has('cpf'))
          return 'taken' as const;
        await writeProfile(trx, citizen, { cpf });
        return 'added' as const;
      });
      if (outcome === 'taken') return form(ui, 409, typed, 'account.cpf_taken');
      return reply.redirect(outcome === 'added' ? '/conta?cpf=1' : '/conta/dados', 303);
    } catch (error) {
      // Another account took it between the check and the write.
      if (error instanceof AppError && error.code === 'identifier.cpf_taken')
        return form(ui, 409, typed, 'account.cpf_taken');
      throw error;
    }
  });
}
