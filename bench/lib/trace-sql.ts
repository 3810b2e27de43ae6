import { Writable } from 'node:stream';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Database } from '../../src/db/schema.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { createHttp } from './http.ts';
import type { BenchClient } from './oidc.ts';
import { createRp } from './oidc.ts';
import { freePort } from './server.ts';

/**
 * Which SQL statements each operation runs, and how long they take: one operation of each kind
 * against an in-process copy of the server whose Kysely logs every query. Sequential, so every
 * statement logged during an operation belongs to it. PostgreSQL only.
 */
export type SqlTrace = {
  operation: string;
  statements: number;
  writes: number;
  dbMs: number;
  wallMs: number;
  byStatement: { sql: string; count: number; ms: number }[];
};

function shorten(sql: string): string {
  return sql
    .replace(/\s+/g, ' ')
    .replace(/"/g, '')
    .replace(/select (.{60}).*? from/, 'select $1… from')
    .replace(/values \(.*?\) on conflict/, 'values (…) on conflict')
    .replace(/do update set .*/, 'do update set …')
    .slice(0, 150);
}

export async function traceSql(options: {
  databaseUrl: string;
  secretKey: string;
  identifier: string;
  password: string;
  client: Omit<BenchClient, 'issuer'>;
}): Promise<SqlTrace[]> {
  const log: { sql: string; ms: number }[] = [];
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: 10,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === 1082 || oid === 20) return (v: string) => v;
        return pg.types.getTypeParser(oid, format);
      }) as typeof pg.types.getTypeParser,
    },
  });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      log.push({ sql: event.query.sql, ms: event.queryDurationMillis });
    },
  });
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SECRET_KEY: options.secretKey,
    DATABASE_URL: options.databaseUrl,
    LOG_LEVEL: 'silent',
    DEMO: 'off',
    RELAY: 'off',
  });
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const app = await createApp(config, {
    database: {
      db,
      kind: 'postgres',
      ping: async () => void (await pool.query('select 1')),
      close: () => db.destroy(),
    },
    logger: createLogger('silent', sink),
  });
  await app.listen();
  const http = createHttp(config.publicUrl, 4);
  const rp = createRp(http, { ...options.client, issuer: config.publicUrl });
  const traces: SqlTrace[] = [];
  // Background workers (the mail sender, the event relay) poll the database now and then: an
  // operation whose window caught one of their statements is traced again.
  const background = /\b(from|into|update) "?(messages|events|event_\w+)\b|pg_try_advisory/i;
  const measure = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    let out: T;
    let wallMs: number;
    let tries = 0;
    do {
      log.length = 0;
      const t0 = performance.now();
      out = await fn();
      wallMs = performance.now() - t0;
    } while (log.some((q) => background.test(q.sql)) && ++tries < 5);
    const byStatement = new Map<string, { sql: string; count: number; ms: number }>();
    for (const q of log) {
      const key = shorten(q.sql);
      const e = byStatement.get(key) ?? { sql: key, count: 0, ms: 0 };
      e.count++;
      e.ms += q.ms;
      byStatement.set(key, e);
    }
    traces.push({
      operation,
      statements: log.length,
      writes: log.filter((q) => /^\s*(insert|update|delete)/i.test(q.sql)).length,
      dbMs: Math.round(log.reduce((a, q) => a + q.ms, 0) * 10) / 10,
      wallMs: Math.round(wallMs * 10) / 10,
      byStatement: [...byStatement.values()].map((e) => ({ ...e, ms: Math.round(e.ms * 100) / 100 })),
    });
    return out;
  };
  try {
    // Warm the code paths first; the traced runs come after.
    const warm = await rp.passwordLogin(options.identifier, options.password);
    await rp.ssoLogin(warm.jar);
    const login = await measure('password login (new browser)', () =>
      rp.passwordLogin(options.identifier, options.password),
    );
    const sso = await measure('SSO login', () => rp.ssoLogin(login.jar));
    // A traced operation may run again: each refresh presents the token the previous one returned.
    let refreshToken = sso.refreshToken;
    const refreshed = await measure('refresh', async () => {
      const t = await rp.refresh(refreshToken);
      refreshToken = t.refreshToken;
      return t;
    });
    await measure('userinfo', () => rp.userinfo(refreshed.accessToken, refreshed.sub));
    await measure('healthz', () => http.request('GET', '/healthz'));
  } finally {
    http.close();
    await app.close();
    await db.destroy();
  }
  return traces;
}

export function formatTraces(traces: SqlTrace[]): string {
  const lines: string[] = [];
  for (const t of traces) {
    lines.push(
      `${t.operation}: ${t.statements} statements (${t.writes} writes), ${t.dbMs} ms in the database of ${t.wallMs} ms`,
    );
    for (const s of t.byStatement.sort((a, b) => b.count - a.count))
      lines.push(`    ${String(s.count).padStart(3)}×  ${s.ms.toFixed(2).padStart(6)} ms  ${s.sql}`);
  }
  return lines.join('\n');
}
