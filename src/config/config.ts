import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The one schema over the environment. Every key carries its default and why; `loadConfig` is the
 * only reader of `process.env` in the project.
 */
const schema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'])
    .default('development')
    .describe('`production` requires `SECRET_KEY` and an https `PUBLIC_URL`, and hides `/dev/outbox` and the demo'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000).describe('HTTP port'),
  HOST: z.string().default('0.0.0.0').describe('address to listen on'),
  PUBLIC_URL: z
    .url()
    .default('http://localhost:3000')
    .describe('external address; also the OIDC issuer (discovery at `/.well-known/openid-configuration`), and the only source of the addresses the provider publishes, whatever the request headers say. Production refuses `http://` except on loopback'),
  DATABASE_URL: z
    .string()
    .optional()
    .describe('`postgres://…` to use PostgreSQL; absent: embedded PGlite in `DATA_DIR`'),
  DATA_DIR: z.string().default('./data').describe('PGlite files, the development secret, the development mail outbox'),
  SECRET_KEY: z
    .string()
    .min(32)
    .optional()
    .describe('32+ random characters; encrypts signing keys at rest, keys cookies and codes. Absent: generated in `DATA_DIR` (development only); **production refuses to start without it**'),
  ADMIN_TOKEN: z.string().min(24).optional().describe('bearer token of the admin API (`/admin/api/...`); absent: the admin API is off'),
  SMTP_URL: z.string().optional().describe('`smtp://user:pass@host:port`; absent: mail goes to `DATA_DIR/outbox` and `/dev/outbox` (development only)'),
  MAIL_FROM: z.string().default('Cidadela <nao-responda@cidadela.local>').describe('From header'),
  SMS_GATEWAY_URL: z
    .url()
    .optional()
    .describe('endpoint taking `POST {"to","text"}` (a carrier or the city\'s proxy to one); absent: SMS go to the development outbox'),
  SMS_GATEWAY_TOKEN: z.string().optional().describe('bearer token for the SMS gateway'),
  SMS_COUNTRIES: z
    .string()
    .regex(/^\s*[A-Za-z]{2}(\s*,\s*[A-Za-z]{2})*\s*$/, 'a comma-separated list of ISO 3166-1 alpha-2 codes, e.g. BR,AR,PY,UY')
    .default('BR')
    .describe('countries whose mobile numbers may receive an SMS (`BR,AR,PY,UY,…`): an SMS abroad costs more and is what SMS pumping abuses, so only Brazil unless the operator enables others; each foreign country also has a daily cap (`RATE_LIMITS.smsPerCountry`)'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('`fatal` … `trace`, `silent`'),
  DEMO: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe('`on`/`off`: seed the two demo services and serve the demo relying party (`auto`: on outside production)'),
  TRUST_PROXY: z
    .enum(['true', 'false'])
    .default('false')
    .describe('`true` behind a load balancer that sets `X-Forwarded-For`: the client address for throttles and consent records is then read from it. Host and scheme never come from headers (see `PUBLIC_URL`)'),
  RECOVERY_SECRET_QUESTION: z
    .enum(['on', 'off'])
    .default('on')
    .describe('`off` removes the secret question from account recovery and from `/conta` (OWASP ASVS 5 and NIST SP 800-63B-4 advise against knowledge-based recovery; when on, it counts only with the record\'s birth date and mother\'s name, and an account recovered with it drops to bronze — decision 22)'),
  RELAY: z.enum(['on', 'off']).default('on').describe('run the event relay inside the web process; `off` when it runs as `cidadela relay`'),
  KEYS_RELOAD_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(60)
    .describe('how often a running server looks for rotated signing keys (`0`: only at start); new keys sign once twice this old, so every copy publishes them first'),
  AMQP_URL: z
    .string()
    .regex(/^amqps?:\/\//, 'must be an amqp:// or amqps:// URL')
    .optional()
    .describe('`amqp://user:pass@host:5672/vhost` of RabbitMQ for services that receive events by AMQP; absent: their events wait in the database'),
  AMQP_MANAGEMENT_URL: z
    .url()
    .optional()
    .describe('`http://user:pass@host:15672` of the RabbitMQ management API, to give each service a broker user that reads only its queue; absent: the operator does it (`docs/integration-events.md`)'),
  EVENTS_PUSH_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000).describe('how long a push endpoint has to answer one event (SET)'),
  EVENTS_PAUSE_AFTER: z.coerce.number().int().min(1).max(1000).default(10).describe('failures in a row after which a push stream is paused until an operator resumes it'),
  EVENTS_RETRY_MAX_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300).describe('longest wait between two delivery attempts (exponential backoff with jitter from 1 s)'),
  EVENTS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30).describe('sent deliveries are kept this long, for replay, then removed'),
  MESSAGES_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(7)
    .describe('sent and failed mail and SMS rows (recipient and status only: codes are never kept once sent) are removed after this many days'),
  CERT_TRUST_DIR: z
    .string()
    .optional()
    .describe('directory of the ICP-Brasil roots (AC Raiz v5, v10, v11, v12) and intermediates, DER or PEM (docs/certificates.md); absent: certificate sign-in is off'),
  CERT_CRL_DIR: z.string().optional().describe('directory of CRL files read at start and at every refresh, besides the distribution points'),
  CERT_CRL_FETCH: z
    .enum(['on', 'off'])
    .default('on')
    .describe('fetch CRLs from the distribution points the trusted CAs name (off: only CERT_CRL_DIR, for an installation without outbound access)'),
  CERT_CRL_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(86_400)
    .describe('how long certificates of an issuer whose CRL is past its nextUpdate (or was never obtained) are still accepted; then they are refused with a clear message'),
  CERT_CRL_REFRESH_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600).describe('how often CRLs are fetched and re-read (always in the background, never during a sign-in)'),
  CERT_LOGIN_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('port of the TLS listener that asks the browser for a client certificate (its own port: browsers do not do TLS 1.3 post-handshake authentication); needs CERT_TLS_CERT and CERT_TLS_KEY'),
  CERT_TLS_CERT: z.string().optional().describe("PEM file of the certificate listener's server certificate (and chain)"),
  CERT_TLS_KEY: z.string().optional().describe("PEM file of the certificate listener's private key"),
  CERT_LOGIN_URL: z
    .url()
    .optional()
    .describe('public address of the certificate listener (or of the proxy that asks for the certificate); default: PUBLIC_URL\'s host on CERT_LOGIN_PORT over https'),
  CERT_PROXY_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]+$/, 'must be a header name')
    .optional()
    .describe("header in which nginx or HAProxy forwards the client certificate (URL-encoded PEM as nginx's $ssl_client_escaped_cert, or PEM); believed only from CERT_TRUSTED_PROXIES"),
  CERT_TRUSTED_PROXIES: z
    .string()
    .optional()
    .describe('comma-separated addresses or CIDR blocks of the proxies whose CERT_PROXY_HEADER is believed; from any other address the header is ignored and logged'),
});

export type Config = {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  secretKey: string;
  secretKeyIsDevelopment: boolean;
  adminToken: string | undefined;
  smtpUrl: string | undefined;
  mailFrom: string;
  smsGatewayUrl: string | undefined;
  smsGatewayToken: string | undefined;
  /** ISO 3166-1 alpha-2 codes whose numbers may receive an SMS, upper-case. */
  smsCountries: string[];
  logLevel: string;
  demo: boolean;
  trustProxy: boolean;
  relay: boolean;
  /** RECOVERY_SECRET_QUESTION: whether recovery and /conta offer the secret question. */
  recoverySecretQuestion: boolean;
  keysReloadSeconds: number;
  amqpUrl: string | undefined;
  amqpManagementUrl: string | undefined;
  events: { pushTimeoutMs: number; pauseAfter: number; retryMaxSeconds: number; retentionDays: number };
  messages: { retentionDays: number };
  /** Certificate sign-in; undefined when CERT_TRUST_DIR is not set or nowhere receives certificates. */
  certificate: CertificateConfig | undefined;
};

export type CertificateConfig = {
  trustDir: string;
  crlDir: string | undefined;
  fetchCrls: boolean;
  graceSeconds: number;
  refreshSeconds: number;
  /** The TLS listener, when Cidadela itself asks for the certificate. */
  listener: { port: number; certFile: string; keyFile: string } | undefined;
  /** Where the login page sends the browser to present its certificate (no trailing slash). */
  loginUrl: string;
  /** The forwarded-certificate header (lower case) and who may send it. */
  proxy: { header: string; trusted: string[] } | undefined;
};

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const dataDir = resolve(c.DATA_DIR);
  let secretKey = c.SECRET_KEY;
  let secretKeyIsDevelopment = false;
  if (!secretKey) {
    if (c.NODE_ENV === 'production') {
      throw new ConfigError('SECRET_KEY is required in production (32 or more random characters)');
    }
    secretKey = developmentSecret(dataDir);
    secretKeyIsDevelopment = true;
  } else if (c.NODE_ENV === 'production' && secretKey.startsWith('dev-')) {
    throw new ConfigError('SECRET_KEY looks like a development secret; production refuses to start with it');
  }
  const publicUrl = c.PUBLIC_URL.replace(/\/+$/, '');
  // Over http:// the session cookies, codes and tokens cross the network in clear: production only
  // allows it on loopback (a local proxy terminating TLS in front, or a smoke test on the host).
  if (c.NODE_ENV === 'production' && new URL(publicUrl).protocol !== 'https:' && !isLoopback(publicUrl)) {
    throw new ConfigError('PUBLIC_URL must be https:// in production (http:// is allowed only on loopback)');
  }
  const certificate = certificateConfig(c, publicUrl);
  return {
    env: c.NODE_ENV,
    port: c.PORT,
    host: c.HOST,
    publicUrl,
    databaseUrl: c.DATABASE_URL,
    dataDir,
    secretKey,
    secretKeyIsDevelopment,
    adminToken: c.ADMIN_TOKEN,
    smtpUrl: c.SMTP_URL,
    mailFrom: c.MAIL_FROM,
    smsGatewayUrl: c.SMS_GATEWAY_URL,
    smsGatewayToken: c.SMS_GATEWAY_TOKEN,
    smsCountries: [...new Set(c.SMS_COUNTRIES.split(',').map((code) => code.trim().toUpperCase()))],
    logLevel: c.LOG_LEVEL,
    demo: c.DEMO === 'on' || (c.DEMO === 'auto' && c.NODE_ENV !== 'production'),
    trustProxy: c.TRUST_PROXY === 'true',
    relay: c.RELAY === 'on',
    recoverySecretQuestion: c.RECOVERY_SECRET_QUESTION === 'on',
    keysReloadSeconds: c.KEYS_RELOAD_SECONDS,
    amqpUrl: c.AMQP_URL,
    amqpManagementUrl: c.AMQP_MANAGEMENT_URL,
    events: {
      pushTimeoutMs: c.EVENTS_PUSH_TIMEOUT_MS,
      pauseAfter: c.EVENTS_PAUSE_AFTER,
      retryMaxSeconds: c.EVENTS_RETRY_MAX_SECONDS,
      retentionDays: c.EVENTS_RETENTION_DAYS,
    },
    messages: { retentionDays: c.MESSAGES_RETENTION_DAYS },
    certificate,
  };
}

function certificateConfig(c: z.infer<typeof schema>, publicUrl: string): CertificateConfig | undefined {
  const listenerAsked = c.CERT_LOGIN_PORT !== undefined;
  const proxyAsked = c.CERT_PROXY_HEADER !== undefined;
  if (!c.CERT_TRUST_DIR) {
    if (listenerAsked || proxyAsked) throw new ConfigError('CERT_TRUST_DIR is required for certificate sign-in (CERT_LOGIN_PORT or CERT_PROXY_HEADER)');
    return undefined;
  }
  if (!listenerAsked && !proxyAsked) return undefined;
  if (listenerAsked && (!c.CERT_TLS_CERT || !c.CERT_TLS_KEY)) throw new ConfigError('CERT_LOGIN_PORT needs CERT_TLS_CERT and CERT_TLS_KEY');
  const trusted = (c.CERT_TRUSTED_PROXIES ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (proxyAsked && trusted.length === 0) throw new ConfigError('CERT_PROXY_HEADER needs CERT_TRUSTED_PROXIES (the addresses of the proxies allowed to send it)');
  let loginUrl = c.CERT_LOGIN_URL?.replace(/\/+$/, '');
  if (!loginUrl) {
    if (!listenerAsked) throw new ConfigError('CERT_PROXY_HEADER needs CERT_LOGIN_URL (the address where the proxy asks for the certificate)');
    const url = new URL(publicUrl);
    loginUrl = `https://${url.hostname}:${c.CERT_LOGIN_PORT}`;
  }
  return {
    trustDir: resolve(c.CERT_TRUST_DIR),
    crlDir: c.CERT_CRL_DIR ? resolve(c.CERT_CRL_DIR) : undefined,
    fetchCrls: c.CERT_CRL_FETCH === 'on',
    graceSeconds: c.CERT_CRL_GRACE_SECONDS,
    refreshSeconds: c.CERT_CRL_REFRESH_SECONDS,
    listener: listenerAsked ? { port: c.CERT_LOGIN_PORT!, certFile: c.CERT_TLS_CERT!, keyFile: c.CERT_TLS_KEY! } : undefined,
    loginUrl,
    proxy: proxyAsked ? { header: c.CERT_PROXY_HEADER!.toLowerCase(), trusted } : undefined,
  };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** A development secret is generated once and kept in DATA_DIR so restarts keep sessions and keys. */
function developmentSecret(dataDir: string): string {
  const file = join(dataDir, 'dev-secret-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = `dev-${randomBytes(32).toString('base64url')}`;
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export type ConfigVariable = { name: string; defaultValue: string | undefined; description: string | undefined };

/**
 * Every variable with its default and description, in schema order: the README's configuration
 * table is generated from this (`npm run docs:config`), so the two cannot drift.
 */
export function configReference(): ConfigVariable[] {
  return Object.entries(schema.shape).map(([name, type]) => {
    const def = (type as unknown as { def: { type: string; defaultValue?: unknown } }).def;
    return { name, defaultValue: def.type === 'default' ? String(def.defaultValue) : undefined, description: type.description };
  });
}
