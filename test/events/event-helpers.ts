import { createPublicKey } from 'node:crypto';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import amqp from 'amqplib';
import { createLocalJWKSet, type JWK, jwtVerify } from 'jose';
import { createConsentStore } from '../../src/consent/consent-store.ts';
import type { Db } from '../../src/db/database.ts';
import { createCitizenStore } from '../../src/identity/citizen-store.ts';
import { cpfFromBase } from '../../src/identity/cpf.ts';
import type { PrivateJwk } from '../../src/oidc/keys.ts';
import { createProviderState } from '../../src/oidc/provider-state.ts';
import { createServiceStore, type Service } from '../../src/services/service-store.ts';

export const IN_CI = process.env.CI === 'true';
export const AMQP_TEST_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

function reachable(host: string, port: number, ms = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * What a test file needs beyond PGlite. Locally a missing piece skips the file with the reason;
 * in CI (CI=true) it is a failure: `missing` is thrown from before().
 */
export async function infrastructure(needs: { postgres?: boolean; amqp?: boolean; amqpManagement?: string }) {
  const missing: string[] = [];
  if (needs.amqpManagement) {
    const u = new URL(needs.amqpManagement);
    if (!(await reachable(u.hostname, Number(u.port || 15672)))) {
      missing.push(
        `the RabbitMQ management API at ${u.hostname}:${u.port || 15672} (rabbitmq-plugins enable rabbitmq_management; AMQP_MANAGEMENT_TEST_URL)`,
      );
    }
  }
  if (needs.postgres && !process.env.DATABASE_URL) missing.push('PostgreSQL (set DATABASE_URL)');
  else if (needs.postgres) {
    const u = new URL(process.env.DATABASE_URL!);
    if (!(await reachable(u.hostname, Number(u.port || 5432))))
      missing.push(`PostgreSQL at ${u.hostname}:${u.port || 5432} is not answering`);
  }
  if (needs.amqp) {
    const u = new URL(AMQP_TEST_URL);
    if (!(await reachable(u.hostname, Number(u.port || 5672))))
      missing.push(`RabbitMQ at ${u.hostname}:${u.port || 5672} is not answering (AMQP_TEST_URL)`);
  }
  const reason = missing.length ? `needs ${missing.join(' and ')}` : undefined;
  return {
    /** For describe(): skip locally when something is missing; never in CI. */
    skip: reason && !IN_CI ? reason : false,
    /** For before(): in CI, a missing piece fails the file. */
    assertPresent() {
      if (reason) throw new Error(`${reason} (CI=true: tests that need it must run)`);
    },
  };
}

let counter = 0;

export async function seedService(
  db: Db,
  fields: string[],
  extra: Record<string, unknown> = {},
): Promise<Service> {
  counter++;
  const { service } = await createServiceStore(db, { provider: createProviderState() }).add({
    name: `Serviço de eventos ${counter}`,
    redirectUris: [`http://127.0.0.1:9/cb/events/${counter}`],
    termsMarkdown: '# Termos',
    fields: fields.map((key) => ({
      key,
      required: ['name', 'email'].includes(key),
      purpose: `para o teste ${key}`,
    })),
    ...extra,
  });
  return service;
}

export async function seedCitizen(db: Db, overrides: Record<string, string> = {}) {
  counter++;
  const base = `${Date.now() % 1_000_000}${String(counter).padStart(3, '0')}`.slice(-9);
  return createCitizenStore(db).create({
    cpf: cpfFromBase(base),
    email: `evento.${base}.${counter}.${Math.random().toString(36).slice(2, 8)}@example.test`,
    name: 'Maria Eventos da Silva',
    socialName: null,
    birthdate: '1980-01-02',
    phoneNumber: null,
    passwordHash: 'x',
    locale: 'pt-BR',
    ...overrides,
  });
}

const CONTEXT = { ip: '127.0.0.1', userAgent: 'test', acr: 'bronze', amr: ['pwd'] };

export async function consent(
  db: Db,
  citizenId: string,
  service: Service,
  shared = service.fields.map((f) => f.key),
) {
  await db
    .transaction()
    .execute((trx) =>
      createConsentStore(db, { provider: createProviderState() }).grant(trx, { citizenId, service, fieldsShared: shared, context: CONTEXT }),
    );
}

export async function revoke(db: Db, citizenId: string, clientId: string) {
  await db
    .transaction()
    .execute((trx) => createConsentStore(db, { provider: createProviderState() }).revoke(trx, { citizenId, clientId, context: CONTEXT }));
}

export const ADDRESS = {
  street_address: 'Rua XV de Novembro',
  number: '100',
  locality: 'Curitiba',
  region: 'PR',
  postal_code: '80010-000',
  country: 'BR',
};

export function publicJwks(keys: PrivateJwk[]): { keys: JWK[] } {
  return {
    keys: keys.map((k) => {
      const pub = createPublicKey({ key: k as never, format: 'jwk' }).export({ format: 'jwk' }) as JWK;
      return { ...pub, kid: k.kid, alg: k.alg, use: 'sig' };
    }),
  };
}

/** Verifies a SET as a service would: signature, typ, issuer and audience. */
export async function verifySet(token: string, jwks: { keys: JWK[] }, issuer: string, audience: string) {
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer,
    audience,
    typ: 'secevent+jwt',
  });
  return { payload: payload as Record<string, any>, header: protectedHeader };
}

/**
 * Polls `check` until it returns a truthy value; gives up after `ms`. The default is long: it only
 * matters when something is wrong, and a machine busy with other work can be slow to get there.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  ms = 60_000,
  every = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export async function pendingCount(db: Db, clientId: string): Promise<number> {
  const row = await db
    .selectFrom('event_deliveries')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('client_id', '=', clientId)
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * A TCP proxy on loopback between the relay and the broker, that a test can cut (every connection
 * dropped, new ones refused) and restore.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = tcpConnect(target);
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async cut() {
      const s = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    restore: listen,
    close() {
      return this.cut();
    },
  };
}

export type Received = { jti: string; token: string; redelivered: boolean };

/** Reads every message in a queue (acknowledging each), until `count` arrived or `ms` passed. */
export async function drainQueue(
  url: string,
  queue: string,
  count: number,
  ms = 60_000,
): Promise<Received[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.prefetch(500);
    const received: Received[] = [];
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    await channel.consume(queue, (message) => {
      if (!message) return;
      received.push({
        jti: String(message.properties.messageId),
        token: message.content.toString(),
        redelivered: message.fields.redelivered,
      });
      channel.ack(message);
      if (received.length >= count) resolveDone();
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
    // Anything beyond `count` (duplicates) arrives right after: give it a moment, bounded.
    await new Promise((r) => setTimeout(r, 300));
    await channel.close();
    return received;
  } finally {
    await connection.close().catch(() => {});
  }
}

export async function deleteQueues(url: string, names: string[]): Promise<void> {
  const connection = await amqp.connect(url).catch(() => undefined);
  if (!connection) return;
  try {
    for (const name of names) {
      const ch = await connection.createChannel();
      ch.on('error', () => {});
      await ch.deleteQueue(name).catch(() => {});
      await ch.close().catch(() => {});
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

export function decode(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}
