/**
 * oidc-provider answers some requests with a self-posting form of its own (the `form_post`
 * response mode, the logout of a browser with no session, the resume after an account switch):
 * an English page whose inline script it allows by adding the script's hash to our CSP. We render
 * that page ourselves instead, in the person's language and under our CSP unchanged: the form is
 * read back from the library's output (oidc-provider is pinned to an exact version, and
 * test/http/headers.test.ts fails if this stops recognising its page) and handed to our renderer.
 */

export type SelfPostingForm = { action: string; inputs: [string, string][] };

const MARKER = '<title>Submitting Callback</title>';

function unescapeHtml(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The form in oidc-provider's own self-posting page, or undefined for any other body. */
export function readSelfPostingForm(body: unknown): SelfPostingForm | undefined {
  if (typeof body !== 'string' || !body.includes(MARKER)) return undefined;
  const action = body.match(/<form method="post" action="([^"]*)">/)?.[1];
  if (action === undefined) return undefined;
  const inputs: [string, string][] = [];
  for (const m of body.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\/>/g)) {
    inputs.push([unescapeHtml(m[1]!), unescapeHtml(m[2]!)]);
  }
  return { action: unescapeHtml(action), inputs };
}
