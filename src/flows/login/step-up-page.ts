import type { TrustLevel } from '../../methods/method.ts';
import { html } from '../../web/html.ts';
import { csrfField } from '../../web/layout.ts';
import type { Ui } from '../../web/request-context.ts';

/**
 * The service needs a higher trust level than this sign-in reached: instead of a refusal, the way
 * to reach it (today, signing in with an ICP-Brasil certificate).
 */
export function stepUpPage(ui: Ui, input: { uid: string; serviceName: string | undefined; required: TrustLevel; certificate: boolean }) {
  const { t } = ui;
  const level = t(`level.${input.required}`);
  return ui.render(
    200,
    t('stepup.title', { level }),
    html`<p>${t('stepup.explain', { service: input.serviceName ?? '', level })}</p>
${input.certificate
  ? html`<p>${t('stepup.certificate')}</p>
<p><a class="button" href="/interaction/${input.uid}/certificate">${t('login.certificate')}</a></p>`
  : html`<p>${t('stepup.unavailable')}</p>`}
<form method="post" action="/interaction/${input.uid}/abort">
  ${csrfField(ui.csrf())}
  <button type="submit" class="secondary">${t('login.cancel')}</button>
</form>`,
  );
}
