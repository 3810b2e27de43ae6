import type { TypedSecondStep } from '../../methods/second-step.ts';
import { groupedSecret } from '../../methods/totp/totp.ts';
import { html, trusted } from '../../web/html.ts';
import { csrfField } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';
import { PASSKEY_SCRIPTS, passkeySignIn } from '../login/login-page.ts';

export type PageError = { key: string; params?: Record<string, string> };

function errorBox(ui: Ui, error: PageError | undefined) {
  return error ? html`<div class="errors" role="alert"><p>${ui.t(error.key, error.params)}</p></div>` : '';
}

/** One form per typed second step (the method's id travels with it). */
function typedForm(ui: Ui, action: string, step: TypedSecondStep, invalid: boolean) {
  const { t } = ui;
  const id = `code-${step.method.id}`;
  return html`<form method="post" action="${action}" novalidate>
  ${csrfField(ui.csrf())}
  <input type="hidden" name="method" value="${step.method.id}">
  <h2>${t(step.labels.heading)}</h2>
  <div class="field${invalid ? ' invalid' : ''}">
    <label for="${id}">${t(step.labels.input)}</label>
    <p class="hint" id="${id}-hint">${t(step.labels.hint)}</p>
    <input id="${id}" name="code" type="text" inputmode="${step.input.inputmode}" autocomplete="${step.input.autocomplete}" maxlength="${step.input.maxlength}" required aria-describedby="${id}-hint"${invalid ? html` aria-invalid="true"` : ''}>
  </div>
  <div class="actions"><button type="submit">${t('second_step.submit')}</button></div>
</form>`;
}

/**
 * The second step: the citizen's typed steps (authenticator code; saved recovery codes once they
 * exist), a passkey, or the certificate, whichever they have. Used by sign-in and by recovery.
 */
export function secondStepPage(
  ui: Ui,
  input: {
    action: string;
    steps: TypedSecondStep[];
    /** Where a passkey is offered (its script reads the data attributes), if the citizen has one. */
    passkey?: { uid: string } | undefined;
    certificateHref?: string | undefined;
    intro: string;
    error?: PageError | undefined;
    /** The method whose form the error is about. */
    errorMethod?: string | undefined;
    status?: number;
    cancelAction?: string | undefined;
  },
) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 401 : 200),
    t('second_step.title'),
    html`<p>${t(input.intro)}</p>
${errorBox(ui, input.error)}
${input.steps.map((s) => typedForm(ui, input.action, s, Boolean(input.error) && input.errorMethod === s.method.id))}
${input.passkey ? passkeySignIn(ui, input.passkey.uid, false) : ''}
${input.certificateHref
  ? html`<h2>${t('login.certificate_heading')}</h2>
<p><a class="button secondary" href="${input.certificateHref}">${t('login.certificate')}</a></p>`
  : ''}
${input.cancelAction
  ? html`<form method="post" action="${input.cancelAction}">
  ${csrfField(ui.csrf())}
  <button type="submit" class="secondary">${t('login.cancel')}</button>
</form>`
  : ''}`,
    input.passkey ? PASSKEY_SCRIPTS : undefined,
  );
}

/**
 * Adding an authenticator app: the QR code (an SVG drawn here), the secret as text for typing by
 * hand, and one code from the app before anything is saved. The secret rides in the form sealed.
 */
export function totpEnrolPage(
  ui: Ui,
  input: { action: string; token: string; secret: string; svg: string; intro: string; error?: PageError | undefined; status?: number; back?: string },
) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 422 : 200),
    t('totp.enrol_title'),
    html`${input.back ? html`<p><a href="${input.back}">${t('profile.back')}</a></p>` : ''}
<p>${t(input.intro)}</p>
${errorBox(ui, input.error)}
<ol>
  <li>${t('totp.enrol_step_app')}</li>
  <li>${t('totp.enrol_step_scan')}</li>
</ol>
<figure class="qr">
  ${trusted(input.svg.replace('<svg ', `<svg role="img" aria-label="${t('totp.qr_label').replace(/[&<>"']/g, '')}" width="220" height="220" `))}
  <figcaption>${t('totp.secret_text')} <code id="totp-secret">${groupedSecret(input.secret)}</code></figcaption>
</figure>
<form method="post" action="${input.action}" novalidate>
  ${csrfField(ui.csrf())}
  <input type="hidden" name="enrolment" value="${input.token}">
  <div class="field${input.error ? ' invalid' : ''}">
    <label for="code">${t('totp.enrol_code')}</label>
    <p class="hint" id="code-hint">${t('totp.code_hint')}</p>
    <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="9" required aria-describedby="code-hint"${input.error ? html` aria-invalid="true"` : ''}>
  </div>
  <div class="actions"><button type="submit">${t('totp.enrol_submit')}</button></div>
</form>`,
  );
}
