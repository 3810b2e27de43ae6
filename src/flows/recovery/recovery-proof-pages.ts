import type { SecretQuestion } from '../../methods/secret-question/secret-question.ts';
import { html } from '../../web/html.ts';
import { csrfField, field } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';

/**
 * The pages of the ways typed on the recovery pages themselves: the secret question (with the
 * record's birth date and mother's name) and a saved recovery code. Like the other recovery pages,
 * the same for everyone, account or not, less the CSRF token (decision 22).
 */
type Problem = { error?: string; errorParams?: Record<string, string | number>; status?: number };

const alert = (ui: Ui, p: Problem) =>
  p.error ? html`<div class="errors" role="alert"><p>${ui.t(p.error, p.errorParams)}</p></div>` : '';

/** How a question reads: a listed one in the page's language; one the citizen wrote is never shown here. */
export const questionText = (ui: Ui, q: SecretQuestion | undefined) =>
  q && 'preset' in q ? ui.t(`secret_question.q.${q.preset}`) : ui.t('recovery.question_yours');

export function questionPage(ui: Ui, input: { question: SecretQuestion | undefined } & Problem) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 422 : 200),
    t('recovery.question_title'),
    html`<p>${t('recovery.question_explain')}</p>
${alert(ui, input)}
<form method="post" action="/recuperar/pergunta" novalidate>
  ${csrfField(ui.csrf())}
  <p class="question" id="question"><strong>${questionText(ui, input.question)}</strong></p>
  ${field({ t, name: 'answer', label: t('recovery.answer'), hint: t('recovery.answer_hint'), autocomplete: 'off', maxlength: 200 })}
  ${field({ t, name: 'birthdate', label: t('field.birthdate.label'), hint: t('recovery.birthdate_hint'), type: 'date', autocomplete: 'off', maxlength: 10 })}
  ${field({ t, name: 'mother_name', label: t('field.mother_name.label'), hint: t('recovery.mother_hint'), autocomplete: 'off', maxlength: 200 })}
  <div class="actions"><button type="submit">${t('recovery.confirm')}</button></div>
</form>
<p><a href="/recuperar/opcoes">${t('recovery.other_way')}</a></p>`,
  );
}

export function savedCodePage(ui: Ui, input: Problem) {
  const { t } = ui;
  return ui.render(
    input.status ?? (input.error ? 422 : 200),
    t('recovery.saved_code_title'),
    html`<p>${t('recovery.saved_code_explain')}</p>
${alert(ui, input)}
<form method="post" action="/recuperar/codigo-salvo" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'code', label: t('recovery.saved_code'), hint: t('recovery.saved_code_hint'), autocomplete: 'off', maxlength: 24 })}
  <div class="actions"><button type="submit">${t('recovery.confirm')}</button></div>
</form>
<p><a href="/recuperar/opcoes">${t('recovery.other_way')}</a></p>`,
  );
}
