import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import type { CitizenStore } from '../identity/citizen-store.ts';
import type { Credential } from '../identity/credential-store.ts';
import { announceFactorChange, type FactorChangeDeps, removeFactor, secondFactorsOf } from '../flows/second-step/factor-changes.ts';
import { checkError } from '../flows/second-step/second-step-routes.ts';
import { type PageError, totpEnrolPage } from '../flows/second-step/second-step-pages.ts';
import type { TotpCredentials } from '../methods/totp/totp-credential.ts';
import { totpQrSvg, totpUri } from '../methods/totp/totp.ts';
import { html } from '../web/html.ts';
import { csrfField } from '../web/layout.ts';
import type { Ui, UiFactory } from '../web/request-context.ts';
import { RECENT_SIGN_IN_SECONDS } from './profile-routes.ts';
import type { PasskeyCeremonies } from '../methods/passkey/passkey-ceremonies.ts';
import type { PasskeyStore } from '../methods/passkey/passkey-store.ts';
import { PASSKEY_SCRIPTS } from '../flows/login/login-page.ts';
import { passkeyRefusal } from '../methods/passkey/passkey-routes.ts';

type Deps = FactorChangeDeps & {
  db: Db;
  ui: UiFactory;
  citizens: CitizenStore;
  totp: TotpCredentials;
  mailQueued(): void;
  signedIn(request: FastifyRequest, reply: FastifyReply): Promise<{ citizenId: string; authTime?: number | undefined } | undefined>;
  /** Sends the browser to sign in; `again` asks for the password (and second step) even with a session. */
  signIn(reply: FastifyReply, again?: boolean): FastifyReply;
  passkeys: PasskeyCeremonies;
  passkeyStore: PasskeyStore;
};

const recent = (authTime: number | undefined) => typeof authTime === 'number' && Date.now() / 1000 - authTime <= RECENT_SIGN_IN_SECONDS;

const text = (body: unknown, key: string, max: number) => {
  const v = (body as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'string' ? v.slice(0, max) : '';
};

/**
 * `/conta/seguranca/fatores`: the citizen's second factors (authenticator app, passkeys), each with when it
 * was added and last used, added and removed here. Adding or removing needs a sign-in of the last
 * ten minutes (a browser left open must not change how the account is protected); each change is
 * announced to every proven address and to the consented services.
 */
export function registerFactorRoutes(app: FastifyInstance, deps: Deps) {
  const date = (ui: Ui, d: Date) => new Intl.DateTimeFormat(ui.locale, { dateStyle: 'long', timeStyle: 'short', timeZone: 'America/Sao_Paulo' }).format(d);

  function factorName(ui: Ui, c: Credential) {
    return c.type === 'totp' ? ui.t('factor.kind.totp') : ui.t('factor.kind.passkey_named', { name: String(c.data.name ?? '') });
  }

  async function overview(ui: Ui, citizenId: string, notice?: string, error?: PageError, status = 200) {
    const { t } = ui;
    const factors = await secondFactorsOf(deps.db, citizenId);
    const hasTotp = factors.some((f) => f.type === 'totp');
    return ui.render(
      status,
      t('security.title'),
      html`<p><a href="/conta/seguranca">${t('security.back')}</a></p>
${notice ? html`<p class="notice" role="status">${t(notice)}</p>` : ''}
${error ? html`<div class="errors" role="alert"><p>${t(error.key, error.params)}</p></div>` : ''}
<p>${t('security.explain')}</p>
<h2>${t('security.factors_title')}</h2>
${factors.length === 0
  ? html`<p>${t('security.none')}</p>`
  : html`<ul class="data-list">${factors.map(
      (f) => html`<li class="data-item">
  <p class="data-name"><strong>${factorName(ui, f)}</strong></p>
  <p class="hint">${t('security.added_on', { date: date(ui, f.createdAt) })} · ${f.lastUsedAt ? t('security.last_used', { date: date(ui, f.lastUsedAt) }) : t('security.never_used')}</p>
  <form method="post" action="/conta/seguranca/${f.id}/remover">
    ${csrfField(ui.csrf())}
    <button type="submit" class="secondary">${t('security.remove', { factor: factorName(ui, f) })}</button>
  </form>
</li>`,
    )}</ul>`}
${hasTotp ? '' : html`<p><a class="button" href="/conta/seguranca/autenticador">${t('security.add_totp')}</a></p>`}
<h2>${t('passkey.add_title')}</h2>
<p>${t('passkey.add_explain')}</p>
<form id="passkey-add" method="post" action="/conta/seguranca/chave" data-options="/conta/seguranca/chave/opcoes" data-verify="/conta/seguranca/chave" data-csrf="${ui.csrf()}" data-failed="${t('passkey.failed')}" hidden>
  <div class="field">
    <label for="passkey-name">${t('passkey.name_label')}</label>
    <p class="hint" id="passkey-name-hint">${t('passkey.name_hint')}</p>
    <input id="passkey-name" name="name" type="text" maxlength="60" required aria-describedby="passkey-name-hint">
  </div>
  <div class="actions"><button type="submit">${t('passkey.add')}</button></div>
</form>
<p class="hint" id="passkey-add-status" role="status"></p>
<noscript><p class="hint">${t('passkey.needs_script')}</p></noscript>`,
      PASSKEY_SCRIPTS,
    );
  }

  /** A change asked from a sign-in older than ten minutes: sign in again first. */
  function signInAgain(ui: Ui) {
    return ui.render(
      403,
      ui.t('security.reauth_title'),
      html`<p>${ui.t('security.reauth')}</p>
<p><a class="button" href="/conta/seguranca/entrar">${ui.t('security.reauth_button')}</a></p>
<p><a href="/conta/seguranca/fatores">${ui.t('profile.back')}</a></p>`,
    );
  }

  app.get('/conta/seguranca/fatores', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const q = request.query as Record<string, string>;
    const notice = q.adicionado === '1' ? 'security.added' : q.removido === '1' ? 'security.removed' : undefined;
    return overview(deps.ui(request, reply), me.citizenId, notice);
  });

  app.get('/conta/seguranca/entrar', async (_request, reply) => deps.signIn(reply, true));

  async function enrolPage(ui: Ui, citizenId: string, token: string, error?: { error: PageError; status: number }) {
    const citizen = await deps.citizens.findById(citizenId);
    const secret = deps.totp.pending(citizenId, token);
    if (!citizen || !secret) return overview(ui, citizenId, undefined, { key: 'totp.enrol_expired' }, 422);
    const svg = await totpQrSvg(totpUri(secret, citizen.email ?? citizen.phoneNumber ?? citizen.name));
    return totpEnrolPage(ui, {
      action: '/conta/seguranca/autenticador',
      token,
      secret,
      svg,
      intro: 'totp.enrol_intro',
      back: '/conta/seguranca/fatores',
      ...(error ? { error: error.error, status: error.status } : {}),
    });
  }

  app.get('/conta/seguranca/autenticador', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    if (!recent(me.authTime)) return signInAgain(ui);
    return enrolPage(ui, me.citizenId, deps.totp.start(me.citizenId).token);
  });

  app.post('/conta/seguranca/autenticador', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    if (!recent(me.authTime)) return signInAgain(ui);
    const token = text(request.body, 'enrolment', 2000);
    const enrolled = await deps.db.transaction().execute(async (trx) => {
      const result = await deps.totp.enrol(trx, me.citizenId, token, text(request.body, 'code', 64));
      if (!result.ok) return result;
      const citizen = await deps.citizens.findById(me.citizenId, trx);
      if (citizen) await announceFactorChange(trx, deps, citizen, { type: 'totp', data: {} }, 'added');
      return result;
    });
    if (!enrolled.ok) {
      if (enrolled.code === 'totp.exists') return overview(ui, me.citizenId, undefined, { key: 'totp.exists' }, 409);
      return enrolPage(ui, me.citizenId, token, checkError(ui, reply, enrolled));
    }
    deps.mailQueued();
    return reply.redirect('/conta/seguranca/fatores?adicionado=1', 303);
  });

  // Adding a passkey: the page's script asks for options, the browser makes the key, the answer is
  // verified here. The name is checked first, so no key is made for a refused name.
  const passkeyName = (body: unknown) => text(body, 'name', 200).trim().replace(/\s+/g, ' ');

  app.post('/conta/seguranca/chave/opcoes', { bodyLimit: 4096 }, async (request, reply) => {
    const ui = deps.ui(request, reply);
    const me = await deps.signedIn(request, reply);
    if (!me) return passkeyRefusal(reply, ui, 'passkey.signed_out', 401);
    if (!recent(me.authTime)) return passkeyRefusal(reply, ui, 'security.reauth', 403);
    const name = passkeyName(request.body);
    if (!name || name.length > 60) return passkeyRefusal(reply, ui, 'passkey.name', 422);
    const citizen = await deps.citizens.findById(me.citizenId);
    if (!citizen) return passkeyRefusal(reply, ui, 'passkey.signed_out', 401);
    return reply.type('application/json').send(await deps.passkeys.registrationOptions(citizen));
  });

  app.post('/conta/seguranca/chave', { bodyLimit: 64 * 1024 }, async (request, reply) => {
    const ui = deps.ui(request, reply);
    const me = await deps.signedIn(request, reply);
    if (!me) return passkeyRefusal(reply, ui, 'passkey.signed_out', 401);
    if (!recent(me.authTime)) return passkeyRefusal(reply, ui, 'security.reauth', 403);
    const outcome = await deps.db.transaction().execute(async (trx) => {
      const citizen = await deps.citizens.findById(me.citizenId, trx);
      if (!citizen) return { ok: false as const, code: 'passkey.signed_out' };
      const result = await deps.passkeys.register(citizen, (request.body as Record<string, unknown> | undefined)?.response, passkeyName(request.body), trx);
      if (!result.ok) return result;
      await deps.passkeyStore.add(citizen.id, result.value, trx);
      await announceFactorChange(trx, deps, citizen, { type: 'passkey', data: { name: result.value.name, attachment: result.value.attachment } }, 'added');
      return result;
    });
    if (!outcome.ok) return passkeyRefusal(reply, ui, outcome.code, outcome.code === 'passkey.name' ? 422 : 400);
    deps.mailQueued();
    return reply.type('application/json').send({ redirect: '/conta/seguranca/fatores?adicionado=1' });
  });

  app.post<{ Params: { id: string } }>('/conta/seguranca/:id/remover', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    if (!recent(me.authTime)) return signInAgain(ui);
    const outcome = await deps.db.transaction().execute((trx) => removeFactor(trx, deps, me.citizenId, request.params.id.slice(0, 64)));
    if (!outcome.ok) {
      if (outcome.code === 'factor.last_required') {
        return overview(ui, me.citizenId, undefined, { key: 'factor.last_required', params: { services: outcome.services.join(', ') } }, 409);
      }
      return overview(ui, me.citizenId, undefined, { key: outcome.code }, 404);
    }
    deps.mailQueued();
    return reply.redirect('/conta/seguranca/fatores?removido=1', 303);
  });
}
