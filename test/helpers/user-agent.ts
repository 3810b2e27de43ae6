/**
 * A small cookie-keeping HTTP client that walks the server-rendered pages the way a browser without
 * JavaScript would: follows redirects, keeps cookies, sends forms with their CSRF token. Browser
 * tests use real Chromium; this one is for protocol and input tests that need many quick runs.
 */
export type Page = { status: number; url: string; html: string; headers: Headers };

type Cookie = { value: string; path: string };

export class UserAgent {
  readonly cookies = new Map<string, Cookie>();
  last: Page | undefined;
  readonly headers: Record<string, string>;

  constructor(headers: Record<string, string> = {}) {
    this.headers = headers;
  }

  cookieHeader(url: URL): string {
    return [...this.cookies.entries()]
      .filter(([, c]) => url.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  store(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const pathAttr = attrs.find((a) => a.trim().toLowerCase().startsWith('path='));
      const path = pathAttr ? pathAttr.trim().slice(5) : '/';
      const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a)) || attrs.some((a) => /max-age=0\b/i.test(a.trim()));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, { value, path });
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url);
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.headers)) if (!headers.has(k)) headers.set(k, v);
    const cookie = this.cookieHeader(u);
    if (cookie) headers.set('cookie', cookie);
    const response = await fetch(u, { ...init, headers, redirect: 'manual' });
    this.store(response);
    return response;
  }

  /**
   * Follows redirects from `url` until a page is shown, or until a redirect leaves for `stopAt`
   * (a relying party's callback), whose address is then returned as the page's url with status 303.
   */
  async follow(url: string, init: RequestInit = {}, stopAt?: string): Promise<Page> {
    let response = await this.request(url, init);
    let current = url;
    for (let hops = 0; hops < 20 && response.status >= 300 && response.status < 400; hops++) {
      const location = new URL(response.headers.get('location')!, current).href;
      await response.body?.cancel();
      if (stopAt && location.startsWith(stopAt)) {
        this.last = { status: 303, url: location, html: '', headers: response.headers };
        return this.last;
      }
      current = location;
      response = await this.request(current);
    }
    this.last = { status: response.status, url: current, html: await response.text(), headers: response.headers };
    return this.last;
  }

  get(url: string, stopAt?: string): Promise<Page> {
    return this.follow(url, {}, stopAt);
  }

  /** Posts a form like the page's own would, with the CSRF token of the last page shown. */
  post(url: string, fields: Record<string, string>, stopAt?: string, options: { csrf?: boolean } = {}): Promise<Page> {
    const body = new URLSearchParams(fields);
    if (options.csrf !== false && this.last) {
      const token = csrfOf(this.last.html);
      if (token && !body.has('_csrf')) body.set('_csrf', token);
    }
    return this.follow(url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, stopAt);
  }
}

export function csrfOf(html: string): string | undefined {
  return html.match(/name="_csrf" value="([^"]+)"/)?.[1];
}

/** The action of the first form on the page whose action contains `part`. */
export function formAction(page: Page, part: string): string {
  const actions = [...page.html.matchAll(/<form[^>]*action="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
  const found = actions.find((a) => a.includes(part));
  if (!found) throw new Error(`no form with action containing ${part} on ${page.url} (status ${page.status}):\n${page.html.slice(0, 2000)}`);
  return new URL(found, page.url).href;
}

/**
 * What a browser would submit from the form whose action contains `part`, before any typing: text
 * inputs with their values, ticked checkboxes, selected options (hidden CSRF included).
 */
export function formFields(page: Page, part: string): Record<string, string> {
  const forms = [...page.html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((m) => m[1]!.includes(part));
  if (!form) throw new Error(`no form with action containing ${part}`);
  const body = form[2]!;
  const out: Record<string, string> = {};
  const unescape = (v: string) => v.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const m of body.matchAll(/<input\b([^>]*)>/g)) {
    const attrs = m[1]!;
    const name = attrs.match(/\bname="([^"]*)"/)?.[1];
    if (!name) continue;
    const type = attrs.match(/\btype="([^"]*)"/)?.[1] ?? 'text';
    const value = unescape(attrs.match(/\bvalue="([^"]*)"/)?.[1] ?? '');
    if (type === 'checkbox' || type === 'radio') {
      if (/\bchecked\b/.test(attrs)) out[name] = value || 'on';
    } else if (type !== 'submit' && type !== 'button') out[name] = value;
  }
  for (const m of body.matchAll(/<select\b[^>]*\bname="([^"]*)"[^>]*>([\s\S]*?)<\/select>/g)) {
    const selected = m[2]!.match(/<option value="([^"]*)" selected>/);
    out[m[1]!] = selected ? unescape(selected[1]!) : '';
  }
  return out;
}
