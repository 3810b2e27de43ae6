import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { type App, createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const TEST_SECRET = 'test-secret-key-0123456789-abcdefghijklmnop';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export type TestApp = App & {
  url: string;
  db: TestDatabase;
  /** Every log line the app wrote (JSON strings), to check for leaks. */
  logs: string[];
  stop(): Promise<void>;
};

/** A server on a free loopback port with its own database. */
export async function startTestApp(env: Record<string, string> = {}, database?: TestDatabase): Promise<TestApp> {
  const db = database ?? (await createTestDatabase());
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SECRET_KEY: TEST_SECRET,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    DATA_DIR: '.test-data/app',
    LOG_LEVEL: 'info',
    DEMO: 'on',
    ...env,
    // WebAuthn refuses an IP address as the site: passkey tests ask for http://localhost:{port}.
    ...(env.PUBLIC_URL ? { PUBLIC_URL: env.PUBLIC_URL.replace('{port}', String(port)) } : {}),
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const app = await createApp(config, { database: db, logger: createLogger(config.logLevel, sink), serviceCacheMs: 0 });
  await app.listen();
  return {
    ...app,
    url: config.publicUrl,
    db,
    logs,
    async stop() {
      await app.close();
      if (!database) await db.drop();
    },
  };
}
