import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.ts';
import { accountKind, type CitizenStore, lockCitizen, profileValues, writeProfile } from '../identity/citizen-store.ts';
import { type AccountKind, FIELD_CATALOG, type FieldValue, fieldApplies, formValues, isEmail, parseField } from '../identity/field-catalog.ts';
import { confirmPhone, replaceEmail, replacePhone } from '../identity/contact-proofs.ts';
import type { CodeMechanism } from '../methods/code/code-mechanism.ts';
import type { PasswordSignIn } from '../methods/password/password-sign-in.ts';
import { enqueueMail } from '../messaging/message-queue.ts';
import { formatClock, type Translate } from '../platform/i18n.ts';
import { CODE_MESSAGES } from '../flows/registration/email-confirmation-routes.ts';
import { maskEmail } from '../flows/registration/email-code-page.ts';
import { retryAfter } from '../flows/interaction-kit.ts';
import { AppError } from '../platform/errors.ts';
import { RATE_LIMITS, type RateLimiter } from '../platform/rate-limit.ts';
import { html } from '../web/html.ts';
import { csrfField, errorSummary, field } from '../web/layout.ts';
import { LANG_COOKIE, type Ui, type UiFactory } from '../web/request-context.ts';
import { isLocale } from '../platform/i18n.ts';
import { fieldInput } from '../flows/field-inputs.ts';

/** The values a form was shown with, carried in the form itself (the citizen's own data, never a URL). */
function encodeLoaded(values: Record<string, FieldValue | null>): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

function decodeLoaded(text: string): Record<string, FieldValue | null> | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Values compared as values: an address object's key order means nothing. */
function sameValue(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== '' && x != null).sort(([x], [y]) => x.localeCompare(y)))
      : (v ?? null);
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Changing the login e-mail asks for the password again when the sign-in is older than this. */
export const RECENT_SIGN_IN_SECONDS = 10 * 60;

const recent = (authTime: number | undefined) => typeof authTime === 'number' && Date.now() / 1000 - authTime <= RECENT_SIGN_IN_SECONDS;

/** Fields a citizen edits here. CPF never changes; the e-mail changes through its own confirmation. */
export const EDITABLE_HERE = FIELD_CATALOG.filter((f) => f.editable && f.key !== 'email');
/** Cannot be emptied: every account has them. */
const ALWAYS_PRESENT = new Set(['name', 'birthdate']);

type Deps = {
  db: Db;
  ui: UiFactory;
  citizens: CitizenStore;
  codes: CodeMechanism;
  rateLimiter: RateLimiter;
  mailQueued: () => void;
  /** Mail and SMS go in the citizen's preferred language, whatever the page's. */
  translator(locale: string | null): Translate;
  signedIn(request: FastifyRequest, reply: FastifyReply): Promise<{ citizenId: string; authTime?: number | undefined } | undefined>;
  passwordSignIn: PasswordSignIn;
  signIn(reply: FastifyReply): FastifyReply;
};

/**
 * The citizen's own data, edited once for every service: each change is written with its event in
 * the same transaction, and the relay tells every consented service that consumes the field.
 */
export function registerProfileRoutes(app: FastifyInstance, deps: Deps) {
  /** The phone code waiting for the citizen: a number a service proposed, or the current one's. */
  async function pendingPhone(citizenId: string) {
    for (const purpose of ['phone_change', 'phone_verification'] as const) {
      const pending = await deps.codes.pending({ purpose, citizenId });
      if (pending) return { ...pending, purpose };
    }
    return undefined;
  }

  function render(
    ui: Ui,
    status: number,
    form: Record<string, string>,
    errors: Record<string, string>,
    saved: boolean,
    email = '',
    phone: { number: string; verified: boolean } | null = null,
    loaded = '',
    kind: AccountKind = 'brazilian',
  ) {
    const { t, locale } = ui;
    return ui.render(
      status,
      t('profile.title'),
      html`<p><a href="/conta">${t('profile.back')}</a></p>
${saved ? html`<p class="notice" role="status">${t('profile.saved')}</p>` : ''}
${errorSummary(t, errors)}
<p>${t('profile.explain')}</p>
<p>${t('field.email.label')}: <strong>${email}</strong> · <a href="/conta/email">${t('profile.change_email')}</a></p>
${
  phone && !phone.verified
    ? html`<form method="post" action="/conta/celular/verificar" class="inline-form">
  ${csrfField(ui.csrf())}
  <p>${t('profile.phone_unverified', { phone: phone.number })} <button type="submit" class="secondary">${t('profile.verify_phone')}</button></p>
</form>`
    : phone
      ? html`<p>${t('profile.phone_verified', { phone: phone.number })}</p>`
      : ''
}
<form method="post" action="/conta/dados" novalidate>
  ${csrfField(ui.csrf())}
  <input type="hidden" name="_loaded" value="${loaded}">
  ${EDITABLE_HERE.filter((def) => fieldApplies(def.key, kind)).map((def) => fieldInput(t, locale, def, form, errors, ALWAYS_PRESENT.has(def.key)))}
  <div class="actions"><button type="submit">${t('profile.save')}</button></div>
</form>`,
    );
  }

  app.get('/conta/dados', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const citizen = (await deps.citizens.findById(me.citizenId))!;
    const values = profileValues(citizen);
    const form: Record<string, string> = {};
    for (const def of EDITABLE_HERE) Object.assign(form, formValues(def, values[def.key]));
    const saved = (request.query as Record<string, string>).salvo === '1';
    const phone = citizen.phoneNumber ? { number: citizen.phoneNumber, verified: citizen.phoneNumberVerified } : null;
    const loaded = Object.fromEntries(EDITABLE_HERE.map((def) => [def.key, values[def.key] ?? null]));
    return render(deps.ui(request, reply), 200, form, {}, saved, citizen.email ?? undefined, phone, encodeLoaded(loaded), accountKind(citizen));
  });

  app.post<{ Body: Record<string, unknown> }>('/conta/dados', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const body = request.body ?? {};
    const typed: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) if (k.startsWith('f_') && typeof v === 'string') typed[k] = v.slice(0, 300);
    const errors: Record<string, string> = {};
    const changes: Record<string, FieldValue | null> = {};
    const current = await deps.citizens.findById(me.citizenId);
    // A passport is not a Brazilian's field, nor a CPF a foreigner's (decision 14).
    const kind = current ? accountKind(current) : 'brazilian';
    for (const def of EDITABLE_HERE.filter((d) => fieldApplies(d.key, kind))) {
      const parsed = parseField(def, body);
      if (!parsed.ok) Object.assign(errors, parsed.errors);
      else if (parsed.value === null && ALWAYS_PRESENT.has(def.key)) errors[`f_${def.key}`] = `field.${def.key}.required`;
      else changes[def.key] = parsed.value;
    }
    const loadedForm = typeof body._loaded === 'string' ? body._loaded.slice(0, 20_000) : '';
    if (Object.keys(errors).length) {
      const citizen = await deps.citizens.findById(me.citizenId);
      return render(ui, 422, typed, errors, false, citizen?.email ?? undefined, null, loadedForm, kind);
    }
    // Only what the citizen changed on this form is written: a value another service wrote back
    // since the form was shown is not put back to the old one the form still displayed.
    const loaded = decodeLoaded(loadedForm);
    if (loaded) for (const key of Object.keys(changes)) if (key in loaded && sameValue(loaded[key], changes[key])) delete changes[key];
    // Read again inside the transaction, locked, so nothing committed in between is undone.
    // Everything inside the transaction goes through `trx`: on PGlite (one connection) a query on
    // `db` from inside a transaction would wait for the transaction forever.
    await deps.db.transaction().execute(async (trx) => {
      const citizen = await lockCitizen(trx, me.citizenId);
      if (!citizen) throw new AppError('interaction.expired', 400);
      await writeProfile(trx, citizen, changes);
    });
    // The language chosen again: every page from now on speaks it (the cookie the pages read first).
    if (typeof changes.locale === 'string' && isLocale(changes.locale)) {
      reply.setCookie(LANG_COOKIE, changes.locale, { path: '/', sameSite: 'lax', secure: request.protocol === 'https', maxAge: 365 * 24 * 3600 });
    }
    return reply.redirect('/conta/dados?salvo=1', 303);
  });

  app.get('/conta/email', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    return emailForm(deps.ui(request, reply), 200, '', undefined, !recent(me.authTime));
  });

  function emailForm(ui: Ui, status: number, value: string, error: string | undefined, askPassword = false, passwordError?: string, errorParams?: Record<string, string>) {
    const { t } = ui;
    return ui.render(
      status,
      t('profile.email_title'),
      html`<p><a href="/conta/dados">${t('profile.back_data')}</a></p>
<p>${t('profile.email_explain')}</p>
<form method="post" action="/conta/email" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'email', label: t('profile.new_email'), type: 'email', value, error, autocomplete: 'email', maxlength: 254 })}
  ${
    askPassword
      ? field({ t, name: 'password', label: t('profile.current_password'), hint: t('profile.current_password_hint'), type: 'password', value: '', error: passwordError ? t(passwordError, errorParams) : undefined, autocomplete: 'current-password', maxlength: 1000 })
      : ''
  }
  <div class="actions"><button type="submit">${t('profile.send_code')}</button></div>
</form>`,
    );
  }

  app.post<{ Body: Record<string, unknown> }>('/conta/email', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const email = typeof request.body?.email === 'string' ? request.body.email.trim().slice(0, 254) : '';
    const askPassword = !recent(me.authTime);
    if (!isEmail(email)) return emailForm(ui, 422, email, 'field.email.invalid', askPassword);
    const citizen = await deps.citizens.findById(me.citizenId);
    if (!citizen) return deps.signIn(reply);
    if (askPassword) {
      // A browser left signed in is not enough to move the account to another mailbox: the
      // password again, throttled like any sign-in.
      const password = typeof request.body?.password === 'string' ? request.body.password.slice(0, 1000) : '';
      const checked = await deps.passwordSignIn.attempt({ identifier: citizen.cpf ?? citizen.email ?? citizen.phoneNumber ?? '', password, ip: request.ip });
      if (!checked.ok || checked.citizen.id !== citizen.id) {
        const code = checked.ok ? 'login.invalid' : checked.code;
        if (!checked.ok && checked.code === 'login.throttled') retryAfter(reply, checked.retryAt);
        return emailForm(ui, code === 'login.throttled' ? 429 : 401, email, undefined, true, code, !checked.ok && checked.code === 'login.throttled' ? { time: formatClock(checked.retryAt, ui.locale) } : undefined);
      }
    }
    if (citizen.email?.toLowerCase() === email.toLowerCase()) return emailForm(ui, 422, email, 'profile.email_same', askPassword);
    const taken = await deps.citizens.findByIdentifier(email);
    if (taken) return emailForm(ui, 409, email, 'register.email_taken', askPassword);
    // Each change sends a code to an address nobody has proven yet: few a day per account, and the
    // code mechanism caps the codes one address receives whoever asks.
    const changes = await deps.rateLimiter.hit(RATE_LIMITS.emailChangesPerCitizen, citizen.id);
    const issued = changes.allowed
      ? await deps.db.transaction().execute((trx) =>
          deps.codes.issue(trx, { purpose: 'email_change', channel: 'email', citizenId: citizen.id, address: email, t: deps.translator(citizen.locale) }),
        )
      : ({ ok: false, retryAt: changes.retryAt } as const);
    if (!issued.ok) {
      if ('retryAt' in issued) retryAfter(reply, issued.retryAt);
      return emailForm(ui, 429, email, 'email_code.send_limit', askPassword);
    }
    deps.mailQueued();
    return reply.redirect('/conta/email/confirmar', 303);
  });

  app.get('/conta/email/confirmar', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const pending = await deps.codes.pending({ purpose: 'email_change', citizenId: me.citizenId });
    if (!pending) return reply.redirect('/conta/dados', 303);
    return confirmForm(deps.ui(request, reply), 200, pending.address, undefined);
  });

  function confirmForm(ui: Ui, status: number, email: string, error: string | undefined, params?: Record<string, string | number>) {
    const { t } = ui;
    return ui.render(
      status,
      t('email_code.title'),
      html`<p>${t('email_code.sent_to', { email: maskEmail(email) })}</p>
<form method="post" action="/conta/email/confirmar" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'code', label: t('email_code.code'), hint: t('email_code.code_hint'), error: error ? t(error, params) : undefined, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 7 })}
  <div class="actions"><button type="submit">${t('email_code.submit')}</button></div>
</form>
<p><a href="/conta/email">${t('profile.change_email_again')}</a></p>`,
    );
  }

  app.post<{ Body: Record<string, unknown> }>('/conta/email/confirmar', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const pending = await deps.codes.pending({ purpose: 'email_change', citizenId: me.citizenId });
    if (!pending) return reply.redirect('/conta/dados', 303);
    const typed = typeof request.body?.code === 'string' ? request.body.code.slice(0, 20) : '';
    // The notice to the old address goes in the citizen's language, not the page's.
    const t = deps.translator((await deps.citizens.findById(me.citizenId))?.locale ?? null);
    let result;
    try {
      result = await deps.db.transaction().execute(async (trx) => {
        const checked = await deps.codes.check({ id: pending.id, purpose: 'email_change', typed }, trx);
        if (!checked.ok) return checked;
        const { previous } = await replaceEmail(trx, checked.proof.citizenId, checked.proof.address);
        // The old address hears of it, in the same transaction: whoever changed it cannot stop that.
        // (A foreigner may have had none.)
        if (previous) await enqueueMail(trx, {
          to: previous,
          subject: t('mail.email_changed.subject'),
          text: t('mail.email_changed.body', { email: maskEmail(checked.proof.address) }),
        });
        return checked;
      });
    } catch (error) {
      // Someone else proved the address first: nothing changes, the code stays unused.
      if (error instanceof AppError && error.code === 'identifier.email_taken') return confirmForm(ui, 409, pending.address, 'register.email_taken');
      throw error;
    }
    if (!result.ok) {
      return confirmForm(ui, 422, pending.address, CODE_MESSAGES[result.code]!, result.code === 'code.invalid' ? { tries: result.triesLeft } : undefined);
    }
    return reply.redirect('/conta/dados?salvo=1', 303);
  });

  function phoneCodeForm(ui: Ui, status: number, phone: string, error?: string, params?: Record<string, string | number>, info?: string) {
    const { t } = ui;
    return ui.render(
      status,
      t('profile.phone_title'),
      html`<p>${t('profile.phone_sent', { phone: `••••${phone.slice(-4)}` })}</p>
${info ? html`<p class="notice" role="status">${t(info)}</p>` : ''}
<form method="post" action="/conta/celular/confirmar" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'code', label: t('email_code.code'), hint: t('profile.phone_code_hint'), error: error ? t(error, params) : undefined, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 7 })}
  <div class="actions"><button type="submit">${t('email_code.submit')}</button></div>
</form>
<form method="post" action="/conta/celular/reenviar">
  ${csrfField(ui.csrf())}
  <button type="submit" class="secondary">${t('email_code.resend')}</button>
</form>
<p><a href="/conta/dados">${t('profile.back_data')}</a></p>`,
    );
  }

  app.post('/conta/celular/verificar', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const citizen = await deps.citizens.findById(me.citizenId);
    if (!citizen?.phoneNumber || citizen.phoneNumberVerified) return reply.redirect('/conta/dados', 303);
    const phone = citizen.phoneNumber;
    const started = await deps.db.transaction().execute((trx) =>
      deps.codes.issue(trx, { purpose: 'phone_verification', channel: 'sms', citizenId: citizen.id, address: phone, t: deps.translator(citizen.locale) }),
    );
    if (!started.ok && started.code === 'code.country_disabled') {
      return ui.render(422, ui.t('profile.phone_title'), html`<p role="alert">${ui.t('phone.country_disabled')}</p><p><a href="/conta/dados">${ui.t('profile.back_data')}</a></p>`);
    }
    if (!started.ok) {
      retryAfter(reply, started.retryAt);
      return ui.render(429, ui.t('profile.phone_title'), html`<p role="alert">${ui.t('sms.limited')}</p><p><a href="/conta/dados">${ui.t('profile.back_data')}</a></p>`);
    }
    deps.mailQueued();
    return reply.redirect('/conta/celular/confirmar', 303);
  });

  app.get('/conta/celular/confirmar', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const pending = await pendingPhone(me.citizenId);
    if (!pending) return reply.redirect('/conta/dados', 303);
    const sent = (request.query as Record<string, string>).novo === '1';
    return phoneCodeForm(deps.ui(request, reply), 200, pending.address, undefined, undefined, sent ? 'email_code.resent' : undefined);
  });

  app.post<{ Body: Record<string, unknown> }>('/conta/celular/confirmar', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const pending = await pendingPhone(me.citizenId);
    if (!pending) return reply.redirect('/conta/dados', 303);
    const typed = typeof request.body?.code === 'string' ? request.body.code.slice(0, 20) : '';
    let result;
    try {
      result = await deps.db.transaction().execute(async (trx) => {
        const checked = await deps.codes.check({ id: pending.id, purpose: pending.purpose, typed }, trx);
        if (!checked.ok) return checked;
        // A number a service proposed becomes the citizen's now; the current number is only marked
        // verified if it still is the one the code went to.
        if (pending.purpose === 'phone_change') await replacePhone(trx, checked.proof.citizenId, checked.proof.address);
        else await confirmPhone(trx, checked.proof.citizenId, checked.proof.address);
        return checked;
      });
    } catch (error) {
      // Another account proved the number first: nothing changes, the code stays unused.
      if (error instanceof AppError && error.code === 'identifier.phone_taken') return phoneCodeForm(ui, 409, pending.address, 'identifier.phone_taken');
      throw error;
    }
    if (!result.ok) {
      return phoneCodeForm(ui, 422, pending.address, CODE_MESSAGES[result.code]!, result.code === 'code.invalid' ? { tries: result.triesLeft } : undefined);
    }
    return reply.redirect('/conta/dados?salvo=1', 303);
  });

  app.post('/conta/celular/reenviar', async (request, reply) => {
    const me = await deps.signedIn(request, reply);
    if (!me) return deps.signIn(reply);
    const ui = deps.ui(request, reply);
    const pending = await pendingPhone(me.citizenId);
    if (!pending) return reply.redirect('/conta/dados', 303);
    const citizen = await deps.citizens.findById(me.citizenId);
    const outcome = await deps.codes.resend(pending.id, pending.purpose, deps.translator(citizen?.locale ?? null));
    if (outcome === 'sent') {
      deps.mailQueued();
      return reply.redirect('/conta/celular/confirmar?novo=1', 303);
    }
    if (outcome === 'code.limited') return phoneCodeForm(ui, 429, pending.address, 'sms.limited');
    if (outcome === 'code.country_disabled') return phoneCodeForm(ui, 422, pending.address, 'phone.country_disabled');
    return phoneCodeForm(ui, 422, pending.address, CODE_MESSAGES[outcome]!);
  });
}
