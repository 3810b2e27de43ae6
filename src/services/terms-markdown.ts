import { Marked } from 'marked';
import { escapeHtml, type SafeHtml, trusted } from '../http/html.ts';

/**
 * Terms of use are Markdown written by operators. Raw HTML in it is shown as text, links may only
 * be http(s) or mailto, and images become links: the result is safe to put in a page.
 */
const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html: (token) => escapeHtml(token.text),
    // The terms sit under the page's own h2: their headings start at h3.
    heading({ tokens, depth }) {
      const level = Math.min(depth + 2, 6);
      return `<h${level}>${this.parser.parseInline(tokens)}</h${level}>\n`;
    },
    link({ href, tokens }) {
      const text = this.parser.parseInline(tokens);
      if (!/^(https?:|mailto:)/i.test(href)) return text;
      return `<a href="${escapeHtml(href)}" rel="noopener noreferrer">${text}</a>`;
    },
    image: ({ href, text }) =>
      /^https?:/i.test(href) ? `<a href="${escapeHtml(href)}" rel="noopener noreferrer">${escapeHtml(text || href)}</a>` : escapeHtml(text),
  },
});

export function renderTerms(markdown: string): SafeHtml {
  return trusted(marked.parse(markdown) as string);
}
