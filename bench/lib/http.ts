import { Agent, request as httpRequest } from 'node:http';

/**
 * A small HTTP/1.1 client over node:http with keep-alive sockets, no redirect following and raw
 * Set-Cookie access: the least client work per request, so the 2 cores go to the server.
 */
export type HttpResponse = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
};

export type Http = {
  base: URL;
  request(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: string; jar?: CookieJar },
  ): Promise<HttpResponse>;
  close(): void;
};

export function createHttp(baseUrl: string, maxSockets: number, timeoutMs = 30_000): Http {
  const base = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
  return {
    base,
    request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.jar) {
        const cookie = options.jar.header(path);
        if (cookie) headers.cookie = cookie;
        if (options.jar.address) headers['x-forwarded-for'] = options.jar.address;
      }
      if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
      return new Promise<HttpResponse>((resolve, reject) => {
        const req = httpRequest(
          { agent, host: base.hostname, port: base.port, method, path, headers, timeout: timeoutMs },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              const response = {
                status: res.statusCode ?? 0,
                headers: res.headers,
                body: Buffer.concat(chunks).toString('utf8'),
              };
              options.jar?.store(response.headers['set-cookie']);
              resolve(response);
            });
          },
        );
        req.on('timeout', () =>
          req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${pathOnly(path)}`)),
        );
        req.on('error', reject);
        if (options.body !== undefined) req.write(options.body);
        req.end();
      });
    },
    close: () => agent.destroy(),
  };
}

export function pathOnly(path: string): string {
  const i = path.indexOf('?');
  return i < 0 ? path : path.slice(0, i);
}

/**
 * One browser: its cookies (name → value and path, honouring deletions, as the test UserAgent
 * does) and, optionally, its address as a load balancer in front of the server would forward it.
 */
export class CookieJar {
  readonly cookies = new Map<string, { value: string; path: string }>();
  readonly address: string | undefined;

  constructor(address?: string) {
    this.address = address;
  }

  header(path: string): string {
    const p = pathOnly(path);
    let out = '';
    for (const [name, c] of this.cookies) {
      if (!p.startsWith(c.path)) continue;
      out += out ? `; ${name}=${c.value}` : `${name}=${c.value}`;
    }
    return out;
  }

  store(lines: string[] | undefined) {
    if (!lines) return;
    for (const line of lines) {
      const parts = line.split(';');
      const pair = parts[0] ?? '';
      const i = pair.indexOf('=');
      if (i <= 0) continue;
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      let path = '/';
      let expired = value === '';
      for (let k = 1; k < parts.length; k++) {
        const attr = parts[k]!.trim();
        const lower = attr.toLowerCase();
        if (lower.startsWith('path=')) path = attr.slice(5);
        else if (lower === 'max-age=0' || (lower.startsWith('expires=') && lower.includes('1970')))
          expired = true;
      }
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value, path });
    }
  }
}
