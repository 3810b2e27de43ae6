import { request as httpRequest } from 'node:http';
import { authorizationRequest, type TestService, UserAgent } from '../helpers/journeys.ts';
import { formAction, type Page } from '../helpers/user-agent.ts';

/**
 * What the security suite's attacks share: raw requests that `fetch` would not send as written
 * (its own Host, a path it would normalise), and a login form reached from a chosen address.
 */

export type RawResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
};

/** A request sent exactly as given: the path is not normalised and any Host header goes out. */
export function rawRequest(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path,
        headers: options.headers ?? {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** A new browser, at the login page of a new authorization request, coming from `address`. */
export async function atLoginPage(svc: TestService, address: string, headers: Record<string, string> = {}) {
  const ua = new UserAgent({ 'x-forwarded-for': address, ...headers });
  const auth = await authorizationRequest(svc);
  const page = await ua.get(auth.url.href, svc.redirectUri);
  if (page.status !== 200 || !page.html.includes('name="password"')) {
    throw new Error(`not a login page: ${page.status} ${page.url}\n${page.html.slice(0, 1500)}`);
  }
  return { ua, auth, page };
}

/** One password attempt from `address`, in a new browser. */
export async function tryPassword(
  svc: TestService,
  address: string,
  identifier: string,
  password: string,
): Promise<Page> {
  const { ua, page } = await atLoginPage(svc, address);
  return ua.post(formAction(page, '/login'), { identifier, password }, svc.redirectUri);
}

/** The password was accepted: the browser went on to the consent page or back to the service. */
export function signedIn(page: Page): boolean {
  return page.status === 303 || (page.status === 200 && page.html.includes('name="decision"'));
}

let counter = 0;
/** An address of its own for each call (the test servers trust X-Forwarded-For where they say so). */
export function newAddress(prefix = '10.99'): string {
  counter++;
  return `${prefix}.${Math.floor(counter / 250) % 250}.${(counter % 250) + 1}`;
}
