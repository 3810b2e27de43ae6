import type { Translate } from '../platform/i18n.ts';
import type { OutgoingMail, OutgoingSms } from './message-queue.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
// Kept here rather than imported from web/: messaging sits below the pages.
const escapeText = (value: string) => value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/**
 * Every mail the platform sends is one template per message and language: the locale files hold
 * `mail.<name>.subject` and `mail.<name>.body` (plain text, `{param}` placeholders) in pt-BR, en
 * and es. The HTML part is built from the same text, escaped, one paragraph per blank line, the
 * `link` parameter (if any) as a link, so the two parts never say different things.
 */
export function renderMail(
  t: Translate,
  name: string,
  to: string,
  params: Record<string, string | number> = {},
): OutgoingMail {
  const text = t(`mail.${name}.body`, params);
  const link = typeof params.link === 'string' ? params.link : undefined;
  const paragraphs = text.split(/\n{2,}/).map((p) => {
    const lines = p.split('\n').map(escapeText).join('<br>');
    return `<p>${link ? lines.replace(escapeText(link), `<a href="${escapeText(link)}">${escapeText(link)}</a>`) : lines}</p>`;
  });
  const html = `<!doctype html><html lang="${escapeText(t('mail.lang'))}"><body style="font-family:sans-serif;line-height:1.5">${paragraphs.join('\n')}</body></html>`;
  return { to, subject: t(`mail.${name}.subject`, params), text, html };
}

/** An SMS template: `sms.<name>` in the citizen's language. */
export function renderSms(
  t: Translate,
  name: string,
  to: string,
  params: Record<string, string | number> = {},
): OutgoingSms {
  return { to, text: t(`sms.${name}`, params) };
}
