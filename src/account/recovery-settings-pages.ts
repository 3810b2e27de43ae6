import { PRESET_QUESTIONS, type SecretQuestion } from '../methods/secret-question/secret-question.ts';
import { html, type SafeHtml } from '../web/html.ts';
import { csrfField, field } from '../web/layout.ts';
import type { Ui } from '../web/request-context.ts';

/** The recovery settings on /conta: saved recovery codes and the secret question (decision 22). */

export type SettingsView = {
  codes: { left: number; total: number; generatedAt: Date } | undefined;
  question: { question: SecretQuestion; setAt: Date } | undefined;
  questionOn: boolean;
  askPassword: boolean;
  /** Recovered with the secret question and not raised since: the account is bronze until then. */
  lowered: Date | undefined;
  notice?: string;
  error?: { form: 'codes' | 'question' | 'remove'; key: string; params?: Record<string, string | number> };
  values?: { question?: string; custom?: string };
  status?: number;
};

const date = (ui: Ui, d: Date) =>
  new Intl.DateTimeFormat(ui.locale, { dateStyle: 'long', timeZone: 'America/Sao_Paulo' }).format(d);

/** The notice /conta and this page show while a secret-question recovery keeps the account at bronze. */
export function loweredNotice(ui: Ui, lowered: Date | undefined): SafeHtml | string {
  return lowered
    ? html`<p class="notice" role="status" id="lowered">${ui.t('recovery_settings.lowered', { date: date(ui, lowered) })}</p>`
    : '';
}

function passwordField(ui: Ui, view: SettingsView, form: string) {
  if (!view.askPassword) return '';
  const err =
    view.error?.form === form && view.error.key.startsWith('login.')
      ? ui.t(view.error.key, view.error.params)
      : undefined;
  return field({
    t: ui.t,
    name: `password-${form}`,
    label: ui.t('profile.current_password'),
    hint: ui.t('profile.current_password_hint'),
    type: 'password',
    error: err,
    autocomplete: 'current-password',
    maxlength: 1000,
  });
}

function formError(ui: Ui, view: SettingsView, form: string) {
  const e = view.error;
  return e && e.form === form && !e.key.startsWith('login.')
    ? html`<div class="errors" role="alert"><p>${ui.t(e.key, e.params)}</p></div>`
    : '';
}

export function settingsPage(ui: Ui, view: SettingsView) {
  const { t } = ui;
  const chosen =
    view.values?.question ??
    (view.question && 'preset' in view.question.question ? view.question.question.preset : '');
  const current = view.question
    ? 'preset' in view.question.question
      ? t(`secret_question.q.${view.question.question.preset}`)
      : view.question.question.custom
    : undefined;
  return ui.render(
    view.status ?? (view.error ? 422 : 200),
    t('recovery_settings.title'),
    html`<p><a href="/conta">${t('profile.back')}</a></p>
${view.notice ? html`<p class="notice" role="status">${t(view.notice)}</p>` : ''}
${loweredNotice(ui, view.lowered)}
<p>${t('recovery_settings.explain')}</p>
<h2>${t('recovery_settings.codes_title')}</h2>
<p>${
      view.codes
        ? t('recovery_settings.codes_status', {
            left: view.codes.left,
            total: view.codes.total,
            date: date(ui, view.codes.generatedAt),
          })
        : t('recovery_settings.codes_none')
    }</p>
<p>${t('recovery_settings.codes_explain')}</p>
${formError(ui, view, 'codes')}
<form method="post" action="/conta/recuperacao/codigos" novalidate>
  ${csrfField(ui.csrf())}
  ${passwordField(ui, view, 'codes')}
  <div class="actions"><button type="submit">${t(view.codes ? 'recovery_settings.codes_replace' : 'recovery_settings.codes_generate')}</button></div>
</form>
<h2>${t('recovery_settings.question_title')}</h2>
${
  !view.questionOn
    ? html`<p>${t('recovery_settings.question_off')}</p>`
    : html`<p>${t('recovery_settings.question_explain')}</p>
<p id="question-status">${current ? t('recovery_settings.question_current', { question: current, date: date(ui, view.question!.setAt) }) : t('recovery_settings.question_none')}</p>
${formError(ui, view, 'question')}
<form method="post" action="/conta/recuperacao/pergunta" novalidate>
  ${csrfField(ui.csrf())}
  <div class="field">
    <label for="question">${t('recovery_settings.question')}</label>
    <select id="question" name="question">
      ${PRESET_QUESTIONS.map((q) => html`<option value="${q}"${chosen === q ? ' selected' : ''}>${t(`secret_question.q.${q}`)}</option>`)}
      <option value="custom"${chosen === 'custom' ? ' selected' : ''}>${t('recovery_settings.question_custom_option')}</option>
    </select>
  </div>
  ${field({ t, name: 'custom', label: t('recovery_settings.question_custom'), hint: t('recovery_settings.question_custom_hint'), value: view.values?.custom ?? '', autocomplete: 'off', maxlength: 200, required: false })}
  ${field({ t, name: 'answer', label: t('recovery_settings.answer'), hint: t('recovery_settings.answer_hint'), autocomplete: 'off', maxlength: 200 })}
  ${passwordField(ui, view, 'question')}
  <div class="actions"><button type="submit">${t('recovery_settings.question_save')}</button></div>
</form>
${
  view.question
    ? html`${formError(ui, view, 'remove')}<form method="post" action="/conta/recuperacao/pergunta/remover" novalidate>
  ${csrfField(ui.csrf())}
  ${passwordField(ui, view, 'remove')}
  <div class="actions"><button type="submit" class="secondary">${t('recovery_settings.question_remove')}</button></div>
</form>`
    : ''
}`
}`,
  );
}

/** The new codes, shown once: to print (a print stylesheet keeps only them) or write down. */
export function codesPage(ui: Ui, codes: string[]) {
  const { t } = ui;
  return ui.render(
    200,
    t('recovery_settings.new_codes_title'),
    html`<p class="no-print"><a href="/conta/recuperacao">${t('recovery_settings.back')}</a></p>
<p>${t('recovery_settings.new_codes_explain')}</p>
<ol class="recovery-codes" aria-label="${t('recovery_settings.new_codes_title')}">
${codes.map((c) => html`<li><code>${c}</code></li>`)}
</ol>
<p class="print-only">${t('recovery_settings.printed_on', { date: date(ui, new Date()) })}</p>
<div class="actions no-print"><button type="button" class="secondary" data-print hidden>${t('recovery_settings.print')}</button></div>`,
    ['/static/print-page.js'],
  );
}
