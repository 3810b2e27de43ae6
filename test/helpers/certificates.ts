import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { serverCertificate, type TestCertificate, type TestPki } from '../fixtures/test-pki.ts';
import { freePort, startTestApp, type TestApp } from './test-app.ts';
import type { Page } from './user-agent.ts';

export const PROXY_HEADER = 'X-SSL-Client-Cert';

export type CertificateApp = TestApp & { certificateUrl: string; serverCertPem: string };

/**
 * A server with certificate sign-in on: its own TLS listener on a free loopback port, and the proxy
 * header believed from 127.0.0.1 only (tests send from 127.0.0.2 to play a stranger).
 */
export async function startCertificateApp(pki: TestPki, env: Record<string, string> = {}): Promise<CertificateApp> {
  const { certPem, keyPem } = await serverCertificate();
  writeFileSync(join(pki.dir, 'listener.crt'), certPem);
  writeFileSync(join(pki.dir, 'listener.key'), keyPem);
  const port = await freePort();
  const app = await startTestApp({
    CERT_TRUST_DIR: pki.trustDir,
    CERT_CRL_DIR: pki.crlDir,
    CERT_CRL_FETCH: 'off',
    CERT_CRL_GRACE_SECONDS: '0',
    CERT_LOGIN_PORT: String(port),
    CERT_TLS_CERT: join(pki.dir, 'listener.crt'),
    CERT_TLS_KEY: join(pki.dir, 'listener.key'),
    CERT_LOGIN_URL: `https://127.0.0.1:${port}`,
    CERT_PROXY_HEADER: PROXY_HEADER,
    CERT_TRUSTED_PROXIES: '127.0.0.1',
    ...env,
  });
  return Object.assign(app, { certificateUrl: `https://127.0.0.1:${port}`, serverCertPem: certPem });
}

/** From the certificate page of an interaction: where its form posts and the sealed handoff. */
export function handoffFrom(page: Page): { action: string; handoff: string } {
  const action = page.html.match(/<form method="post" action="([^"]+\/certificate\/login)"/)?.[1];
  const handoff = page.html.match(/name="handoff" value="([^"]+)"/)?.[1];
  if (!action || !handoff) throw new Error(`not the certificate page: ${page.url}\n${page.html.slice(0, 1500)}`);
  return { action: action.replaceAll('&amp;', '&'), handoff: handoff.replaceAll('&amp;', '&') };
}

export type Answer = { status: number; location: string | undefined; html: string };

function collect(resolve: (a: Answer) => void, reject: (e: Error) => void) {
  return (res: import('node:http').IncomingMessage) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, html: Buffer.concat(chunks).toString('utf8') }));
    res.on('error', reject);
  };
}

/** Posts the handoff to the TLS listener as a browser would, presenting `certificate` (or none) in the handshake. */
export function presentOverTls(action: string, handoff: string, certificate: TestCertificate | null, ca: string): Promise<Answer> {
  const body = new URLSearchParams({ handoff }).toString();
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      action,
      {
        method: 'POST',
        ca,
        ...(certificate ? { cert: certificate.pem, key: certificate.keyPem } : {}),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
        agent: false,
      },
      collect(resolve, reject),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Posts the handoff to a plain-HTTP receiver as a proxy would, with the certificate in the header, from `localAddress`. */
export function presentInHeader(action: string, handoff: string, headerValue: string | null, localAddress = '127.0.0.1'): Promise<Answer> {
  const body = new URLSearchParams({ handoff }).toString();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      action,
      {
        method: 'POST',
        localAddress,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
          ...(headerValue !== null ? { [PROXY_HEADER]: headerValue } : {}),
        },
        agent: false,
      },
      collect(resolve, reject),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** nginx's `$ssl_client_escaped_cert`: the PEM, URL-encoded. */
export const escapedPem = (pem: string) => encodeURIComponent(pem);
