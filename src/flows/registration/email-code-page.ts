import { html } from '../../web/html.ts';
import { csrfField, field } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';

import { maskEmail } from '../../methods/recovery-strategy.ts';

/** Kept here for the pages that import it; the one definition is in methods/recovery-strategy.ts. */
export { maskEmail };

export function emailCodePage(
  ui: Ui,
  input: { uid: string; email: string; error?: string; errorParams?: Record<string, string | number>; info?: string },
) {
  const { t } = ui;
  return ui.render(
    input.error ? 422 : 200,
    t('email_code.title'),
    html`<p>${t('email_code.sent_to', { email: maskEmail(input.email) })}</p>
${input.info ? html`<p class="notice" role="status">${t(input.info)}</p>` : ''}
<form method="post" action="/interaction/${input.uid}/confirm-email" novalidate>
  ${csrfField(ui.csrf())}
  ${field({ t, name: 'code', label: t('email_code.code'), hint: t('email_code.code_hint'), error: input.error ? t(input.error, input.errorParams) : undefined, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 7 })}
  <div class="actions"><button type="submit">${t('email_code.submit')}</button></div>
</form>
<form method="post" action="/interaction/${input.uid}/confirm-email/resend">
  ${csrfField(ui.csrf())}
  <button type="submit" class="secondary">${t('email_code.resend')}</button>
</form>`,
  );
}
