import { html } from '../../http/html.ts';
import { csrfField } from '../../http/layout.ts';
import type { Ui } from '../../http/request-context.ts';
import { renderTerms } from '../../services/terms-markdown.ts';

export function consentPage(
  ui: Ui,
  input: { uid: string; serviceName: string; description: string; termsMarkdown: string },
) {
  const { t } = ui;
  return ui.render(
    200,
    t('consent.title', { service: input.serviceName }),
    html`${input.description ? html`<p>${input.description}</p>` : ''}
<h2 id="terms-title">${t('consent.terms')}</h2>
<section class="terms" aria-labelledby="terms-title" tabindex="0">
${input.termsMarkdown.trim() ? renderTerms(input.termsMarkdown) : html`<p>${t('consent.no_terms')}</p>`}
</section>
<p>${t('consent.explain', { service: input.serviceName })}</p>
<form method="post" action="/interaction/${input.uid}/consent">
  ${csrfField(ui.csrf())}
  <div class="actions">
    <button type="submit" name="decision" value="accept">${t('consent.accept')}</button>
    <button type="submit" name="decision" value="decline" class="secondary">${t('consent.decline')}</button>
  </div>
</form>`,
  );
}
