import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Csrf } from './csrf.ts';
import { AppError, isUnavailable } from '../platform/errors.ts';
import { html } from './html.ts';
import { wayBack } from './layout.ts';
import { pathOnly } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import type { UiFactory } from './request-context.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route takes POSTs without a CSRF token (JSON APIs with their own authentication). */
    csrf?: boolean;
  }
}

const PUBLIC_DIR = new URL('../../public/', import.meta.url).pathname;
export const FORM_BODY_LIMIT = 64 * 1024;

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function securityHeaders(set: (name: string, value: string) => void, secure: boolean) {
  set('content-security-policy', CSP);
  set('x-content-type-options', 'nosniff');
  set('referrer-policy', 'no-referrer');
  set('x-frame-options', 'DENY');
  set('cross-origin-opener-policy', 'same-origin');
  set('permissions-policy', 'camera=(), microphone=(), geolocation=()');
  if (secure) set('strict-transport-security', 'max-age=31536000; includeSubDomains');
}

function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > 8 || value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v, depth + 1));
}

export type ServerDeps = {
  logger: Logger;
  metrics: Metrics;
  csrf: Csrf;
  ui: UiFactory;
  secure: boolean;
  trustProxy: boolean;
  cookieSecret: string;
  /** Requests under these prefixes go to the OIDC provider untouched. */
  providerPrefixes: string[];
  providerHandler: (req: FastifyRequest['raw'], res: ServerResponse) => void;
  /** Serve TLS instead of plain HTTP (the certificate listener, which asks for a client certificate). */
  https?: { cert: Buffer; key: Buffer; requestCert: boolean; rejectUnauthorized: boolean };
};

export async function createServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    loggerInstance: deps.logger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy,
    bodyLimit: FORM_BODY_LIMIT,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{8,64}$/.test(given) ? given : randomUUID();
    },
    routerOptions: { maxParamLength: 200 },
    // A malformed or over-long path never reaches a route or a hook: without this, Fastify answers
    // with bare JSON that echoes the path, with no security headers and no request id.
    frameworkErrors: (error, request, reply) => {
      const bare = request as unknown as { cookies?: Record<string, string>; query: unknown };
      bare.cookies ??= {};
      bare.query ??= {};
      securityHeaders((n, v) => reply.header(n, v), deps.secure);
      reply.header('cache-control', 'no-store').header('x-request-id', request.id);
      const ui = deps.ui(request, reply);
      const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      return ui.render(status, ui.t('error.title'), html`<p>${ui.t('error.bad_request')}</p>${wayBack(ui.t)}`);
    },
  });

  await app.register(cookie, { secret: deps.cookieSecret });
  await app.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/static/', index: false, maxAge: '1h' });

  const started = new WeakMap<object, bigint>();
  const toProvider = new WeakSet<object>();
  // Requests in flight when shutdown begins end their connection with their response: otherwise a
  // client's (or load balancer's) keep-alive socket holds the process for keepAliveTimeout (72 s).
  // Fastify itself does this only for requests that arrive once closing has begun.
  const inFlight = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
  });
  app.addHook('onRequest', async (request, reply) => {
    started.set(request.raw, process.hrtime.bigint());
    const raw = reply.raw;
    inFlight.add(raw);
    raw.once('close', () => inFlight.delete(raw));
    reply.header('x-request-id', request.id);
    const path = pathOnly(request.url);
    if (deps.providerPrefixes.some((p) => path.startsWith(p))) {
      reply.hijack();
      toProvider.add(request.raw);
      const res = reply.raw;
      securityHeaders((n, v) => res.setHeader(n, v), deps.secure);
      res.setHeader('x-request-id', request.id);
      res.on('finish', () => logDone(request, res.statusCode, 'oidc'));
      deps.providerHandler(request.raw, res);
    }
  });

  const logged = new WeakSet<object>();
  function logDone(request: { raw: object; id: string; method: string; url: string; log: FastifyRequest['log'] }, status: number, route: string) {
    if (logged.has(request.raw)) return;
    logged.add(request.raw);
    const t0 = started.get(request.raw);
    const seconds = t0 ? Number(process.hrtime.bigint() - t0) / 1e9 : 0;
    deps.metrics.observe(route, status, seconds);
    request.log.info(
      { method: request.method, path: pathOnly(request.url), status, ms: Math.round(seconds * 1000) },
      'request',
    );
  }

  app.addHook('onSend', async (_request, reply, payload) => {
    securityHeaders((n, v) => reply.header(n, v), deps.secure);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    // Fastify's own 'finish' listener runs before the provider's, so provider requests end here too.
    logDone(request, reply.statusCode, toProvider.has(request.raw) ? 'oidc' : (request.routeOptions.url ?? 'unmatched'));
  });

  // PostgreSQL cannot store U+0000 in text: a request carrying one is malformed and gets a 400 here,
  // not a 500 from the database wherever the value happens to be used.
  app.addHook('preValidation', async (request) => {
    if (hasNul(request.body) || hasNul(request.query) || hasNul(request.params)) throw new AppError('error.bad_request', 400);
  });

  // Every state-changing form carries a CSRF token; JSON APIs opt out and authenticate otherwise.
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST' && request.method !== 'PUT' && request.method !== 'PATCH' && request.method !== 'DELETE') return;
    if (request.routeOptions.config?.csrf === false) return;
    // Nothing is changed where no route matched: that is a 404, not a CSRF refusal.
    if (request.is404) return;
    if (!deps.csrf.valid(request)) {
      const ui = deps.ui(request, reply);
      return ui.render(403, ui.t('csrf.title'), html`<p>${ui.t('csrf.explain')}</p>${wayBack(ui.t)}`);
    }
  });

  // Pages are the default surface: errors as a page in the person's language. API surfaces
  // (web/surfaces.ts) set their own JSON error format in their encapsulated context.
  app.setErrorHandler(async (error, request, reply) => {
    const { status, code, details } = classifyError(error, request, reply);
    // A script calling a page route with JSON still gets JSON.
    const wantsJson =
      (request.headers.accept ?? '').includes('application/json') ||
      (request.headers['content-type'] ?? '').includes('application/json');
    if (wantsJson) return reply.status(status).send({ error: code, ...details });
    const ui = deps.ui(request, reply);
    return ui.render(status, ui.t('error.title'), html`<p>${ui.t(code)}</p>${wayBack(ui.t)}`);
  });

  app.setNotFoundHandler(async (request, reply) => {
    const ui = deps.ui(request, reply);
    return ui.render(404, ui.t('error.not_found_title'), html`<p>${ui.t('error.not_found')}</p>${wayBack(ui.t)}`);
  });

  return app as unknown as FastifyInstance;
}

/**
 * What an error means for the one who sent the request: a status and a stable code (an i18n key).
 * Unexpected errors are logged here, once, whatever surface renders them.
 */
export function classifyError(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): { status: number; code: string; details: Record<string, unknown> } {
  const err = error as Error & { statusCode?: number; code?: string };
  let status: number;
  let code: string;
  if (err instanceof AppError) {
    status = err.status;
    code = err.code;
    // A dependency refused (broker.unavailable, …): the caller should come back.
    if (status === 503) reply.header('retry-after', '5');
  } else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413) {
    status = 413;
    code = 'error.too_large';
  } else if (isUnavailable(err)) {
    status = 503;
    code = 'error.unavailable';
    reply.header('retry-after', '5');
  } else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    status = err.statusCode;
    code = 'error.bad_request';
  } else {
    status = 500;
    code = 'error.internal';
  }
  if (status >= 500) request.log.error({ err: { message: err.message, code: err.code, stack: err.stack } }, 'request failed');
  return { status, code, details: err instanceof AppError && err.details ? err.details : {} };
}
