import { html } from '../../web/html.ts';
import { csrfField, field } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';
import { phoneCountrySelect } from '../login/login-page.ts';

/**
 * The recovery pages. Each is the same, byte for byte less its CSRF token, whether or not the
 * identifier typed belongs to an account: only the masked destinations differ, and for nobody they
 * are stand-ins.
 */
type Problem = {
  error?: string | undefined;
  errorParams?: Record<string, string | number> | undefined;
  status?: number;
};

function alert(ui: Ui, p: Problem) {
  return p.error ? html`<div class="errors" role="alert"><p>${ui.t(p.error, p.errorParams)}</p></div>` : '';
}

export function identifyPage(
  ui: Ui,
  input: { interactionUid: string | null; identifier?: string; country?: string } & Problem,
) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 422 : 200),
    t('recovery.title'),
    html`<p>${t('recovery.explain')}</p>
${alert(ui, input)}
<form method="post" action="/recuperar" novalidate>
  ${csrfField(ui.csrf())}
  ${input.interactionUid ? html`<input type="hidden" name="i" value="${input.interactionUid}">` : ''}
  ${field({ t, name: 'identifier', label: t('recovery.identifier'), hint: t('recovery.identifier_hint'), value: input.identifier ?? '', autocomplete: 'username', maxlength: 254 })}
  ${phoneCountrySelect(ui, input.country ?? 'BR')}
  <div class="actions"><button type="submit">${t('recovery.continue')}</button></div>
</form>`,
  );
}

export type WayOption = { value: string; label: string };

export function waysPage(ui: Ui, input: { ways: WayOption[] } & Problem) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 422 : 200),
    t('recovery.ways_title'),
    html`<p>${t('recovery.ways_explain')}</p>
${alert(ui, input)}
<form method="post" action="/recuperar/opcoes" novalidate>
  ${csrfField(ui.csrf())}
  <fieldset>
    <legend>${t('recovery.ways_legend')}</legend>
    ${input.ways.map(
      (w, i) =>
        html`<div class="choice"><input type="radio" id="way-${i}" name="way" value="${w.value}"${i === 0 ? ' checked' : ''}><label for="way-${i}">${w.label}</label></div>`,
    )}
  </fieldset>
  <div class="actions"><button type="submit">${t('recovery.send_code')}</button></div>
</form>
<p>${t('recovery.none_of_these')}</p>`,
  );
}

export function codePage(ui: Ui, input: { masked: string; minutes: number; info?: string } & Problem) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 422 : 200),
    t('recovery.code_title'),
    html`<p>${t('recovery.code_sent', { address: input.masked, minutes: input.minutes })}</p>
${input.info ? html`<p class="notice" role="status">${t(input.info)}</p>` : ''}
<form method="post" action="/recuperar/codigo" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'code', label: t('recovery.code'), hint: t('recovery.code_hint'), error: input.error ? t(input.error, input.errorParams) : undefined, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 7 })}
  <div class="actions"><button type="submit">${t('recovery.confirm')}</button></div>
</form>
<form method="post" action="/recuperar/codigo/reenviar">
  ${csrfField(ui.csrf())}
  <button type="submit" class="secondary">${t('recovery.resend')}</button>
</form>
<p><a href="/recuperar/opcoes">${t('recovery.other_way')}</a></p>`,
    ['/static/code-from-link.js'],
  );
}

export function newPasswordPage(ui: Ui, input: Problem & { codesLeft?: number }) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 422 : 200),
    t('recovery.password_title'),
    html`${
      input.codesLeft !== undefined
        ? html`<p class="notice" role="status">${t('recovery.saved_code_left', { left: input.codesLeft })}${input.codesLeft <= 3 ? html` ${t('recovery.saved_code_few')}` : ''}</p>`
        : ''
    }
<p>${t('recovery.password_explain')}</p>
<form method="post" action="/recuperar/senha" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'password', label: t('recovery.new_password'), hint: t('register.password_hint'), type: 'password', error: input.error, autocomplete: 'new-password', maxlength: 1000 })}
  <p class="strength" id="password-strength" aria-live="polite" data-labels="${[0, 1, 2, 3, 4].map((s) => t(`password.strength_${s}`)).join('|')}"></p>
  <div class="actions"><button type="submit">${t('recovery.save_password')}</button></div>
</form>`,
    ['/static/password-strength.js'],
  );
}

export function messagePage(
  ui: Ui,
  status: number,
  title: string,
  text: string,
  link?: { href: string; label: string },
) {
  return ui.render(
    status,
    ui.t(title),
    html`<p>${ui.t(text)}</p>${link ? html`<p><a class="button" href="${link.href}">${ui.t(link.label)}</a></p>` : ''}`,
  );
}

export function notMePage(ui: Ui, input: Problem) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 400 : 200),
    t('recovery.not_me_title'),
    html`<p>${t('recovery.not_me_explain')}</p>
${alert(ui, input)}
<form method="post" action="/recuperar/nao-fui-eu" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'token', label: t('recovery.not_me_token'), hint: t('recovery.not_me_token_hint'), autocomplete: 'off', maxlength: 64 })}
  <div class="actions"><button type="submit">${t('recovery.not_me_submit')}</button></div>
</form>`,
    ['/static/code-from-link.js'],
  );
}
