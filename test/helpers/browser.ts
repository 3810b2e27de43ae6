import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import type { Locale } from '../../src/platform/i18n.ts';

/*
 * Real Chromium (Debian's, through playwright-core) for end-to-end tests: a launch that reaches
 * nothing but loopback, browser profiles that record every problem a page reports, axe-core run
 * under the page's own CSP, and the phone check for sideways scrolling.
 */

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** How long one browser step may take before the test says which step hung. */
export const STEP_BOUND_MS = 90_000;
const AXE_SOURCE = readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 900 } };

export type Violation = { id: string; impact: string | null; help: string; targets: string[] };

export type Watched = {
  page: Page;
  context: BrowserContext;
  /** Everything that went wrong in this profile: console errors, script errors, dialogs, 5xx, requests leaving the app. */
  problems: string[];
  phone: boolean;
  /** With JavaScript off: a JavaScript-enabled page, its scripts blocked, to audit copies in. */
  auditor?: Page;
};

export type OpenOptions = BrowserContextOptions & { phone?: boolean };

/** `localhost`: also resolve that name (to loopback), for WebAuthn, which refuses an IP address as its site. */
export function launchChromium(options: { localhost?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: STEP_BOUND_MS,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Nothing but the app on loopback resolves.
      `--host-resolver-rules=${options.localhost ? 'MAP localhost 127.0.0.1, ' : ''}MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`,
    ],
  });
}

/**
 * Fresh browser profiles (cookies, language, screen) on `browser`, each recording every problem its
 * pages report. A request to another origin than `appUrl`'s is refused and recorded, unless the test
 * routes it itself (routes added later take precedence). `close()` closes them all, for after().
 */
export function browserProfiles(browser: Browser, appUrl: string) {
  const contexts: BrowserContext[] = [];
  const origin = new URL(appUrl).origin;

  async function open(options: OpenOptions = {}): Promise<Watched> {
    const { phone = false, ...rest } = options;
    const context = await browser.newContext({ ...(phone ? PHONE : DESKTOP), ...rest });
    contexts.push(context);
    // Waits are on the element or the navigation; these bounds only end a hang with Playwright's
    // message (which locator, which URL). A busy machine is slow, not broken: they are far above
    // any step's duration there (a 10 s click wait ran out under load).
    context.setDefaultTimeout(STEP_BOUND_MS);
    context.setDefaultNavigationTimeout(STEP_BOUND_MS);
    const problems: string[] = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      problems.push(`request outside the app: ${url}`);
      return route.abort();
    });
    // axe-core (half a megabyte) is handed to the browser once per profile, evaluated by it in each
    // new document, instead of sent over the DevTools connection at every check (most of a
    // check's time). Like page.evaluate it is outside the page's CSP, which stays as served.
    if (rest.javaScriptEnabled !== false) await context.addInitScript({ content: AXE_SOURCE });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // Chromium reports a page shown with a 4xx status (a form sent back with errors) as a failed load.
      if (m.location().url === page.url() && /status of 4\d\d/.test(m.text())) return;
      // Anything else, a CSP refusal included, is a problem.
      problems.push(`console error on ${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`script error on ${page.url()}: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`a ${d.type()} dialog opened on ${page.url()}: ${d.message()}`);
      d.dismiss().catch(() => {});
    });
    page.on('response', (r) => {
      if (r.status() >= 500) problems.push(`${r.status()} from ${r.url()}`);
    });
    const watched: Watched = { page, context, problems, phone };
    if (rest.javaScriptEnabled === false) {
      const copy = await open({ ...options, javaScriptEnabled: true });
      await copy.context.route(/\.js(\?|$)/, (route) => route.abort());
      watched.auditor = copy.page;
    }
    return watched;
  }

  return {
    open,
    async close() {
      for (const c of contexts.splice(0)) await c.close().catch(() => {});
    },
  };
}

function formatViolations(label: string, url: string, violations: Violation[]): string {
  return `axe-core found ${violations.length} violation(s) on ${label} (${url}):\n${violations
    .map((v) => `  - ${v.id} [${v.impact}] ${v.help}\n      ${v.targets.join('\n      ')}`)
    .join('\n')}`;
}

export async function runAxe(page: Page): Promise<{ rules: number; violations: Violation[] }> {
  // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays as served.
  // Profiles have it from their init script; a page from elsewhere gets it now.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run(c: Document, o: object): Promise<Record<string, unknown[]>> } }
    ).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    const violations = r.violations as {
      id: string;
      impact: string | null;
      help: string;
      nodes: { target: string[] }[];
    }[];
    return {
      rules: r.passes!.length + r.violations!.length + r.incomplete!.length + r.inapplicable!.length,
      violations: violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.map((n) => n.target.join(' ')),
      })),
    };
  });
}

/**
 * axe-core on the page as shown, and on a phone no horizontal scroll. axe needs script timers, so
 * a page shown with JavaScript off is audited as a copy (same HTML, same address, same styles,
 * its scripts blocked) in a JavaScript-enabled page.
 */
export async function checkPage(w: Watched, label: string): Promise<void> {
  const { page } = w;
  let result: { rules: number; violations: Violation[] };
  if (!w.auditor) {
    result = await runAxe(page);
  } else {
    const url = page.url();
    const body = await page.content();
    await w.auditor.route(
      url,
      (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body }),
      { times: 1 },
    );
    await w.auditor.goto(url);
    result = await runAxe(w.auditor);
  }
  assert.ok(result.rules > 30, `axe-core ran only ${result.rules} rules on ${label}`);
  if (result.violations.length > 0) assert.fail(formatViolations(label, page.url(), result.violations));
  if (w.phone) {
    // A phone browser zooms out to fit wide content, which widens innerWidth with it: compare the
    // document with the screen's width and with the layout viewport instead.
    const screenWidth = page.viewportSize()!.width;
    const { scrollWidth, clientWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
    assert.ok(
      scrollWidth <= Math.min(screenWidth, clientWidth),
      `${label} scrolls sideways on a ${screenWidth}px phone: the page is ${scrollWidth}px wide`,
    );
  }
}

/** The page is in `locale` and its main heading reads `heading`. */
export async function expectPage(page: Page, locale: Locale, heading: string): Promise<void> {
  assert.equal(await page.locator('html').getAttribute('lang'), locale, `page language at ${page.url()}`);
  assert.equal((await page.locator('main h1').textContent())?.trim(), heading, `heading at ${page.url()}`);
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
