import { Marked } from 'marked';
import { escapeHtml, type SafeHtml, trusted } from './html.ts';

/**
 * Terms of use are Markdown written by operators. Raw HTML in it is shown as text, links may only
 * be http(s) or mailto, and images become links: the result is safe to put in a page.
 */
const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html: (token) => escapeHtml(token.text),
    // Levels are set by renderTerms, relative to the page's h2.
    heading({ tokens, depth }) {
      return `<h${depth}>${this.parser.parseInline(tokens)}</h${depth}>\n`;
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
  const tokens = marked.lexer(markdown);
  // The terms sit under the page's own h2: their shallowest heading becomes h3, and no heading
  // skips a level, whether the operator started at # or ## (screen readers navigate by level).
  let top = 6;
  marked.walkTokens(tokens, (t) => {
    if (t.type === 'heading') top = Math.min(top, t.depth);
  });
  let previous = 2;
  marked.walkTokens(tokens, (t) => {
    if (t.type !== 'heading') return;
    t.depth = Math.min(t.depth - top + 3, previous + 1, 6);
    previous = t.depth;
  });
  return trusted(marked.parser(tokens));
}
