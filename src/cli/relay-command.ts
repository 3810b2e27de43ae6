import { parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import { type Db, openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrator.ts';
import { amqpQueueDeclarer } from '../events/amqp-transport.ts';
import { brokerInstructions, provisionBrokerAccount, vhostOf } from '../events/broker-accounts.ts';
import { createEventsRuntime } from '../events/events-runtime.ts';
import { createStreamStore, type QueueView } from '../events/stream-store.ts';
import { AppError } from '../platform/errors.ts';
import { createLogger } from '../platform/logger.ts';
import { loadSigningKeys, signingKeysVersion } from '../oidc/keys.ts';
import { createSecrets } from '../security/secrets.ts';

/** `cidadela service <command>` commands about a service's event queue (the rest: service-command.ts). */
export const QUEUE_COMMANDS = new Set(['queue', 'replay', 'resume', 'delivery', 'broker-credentials']);

export const QUEUE_USAGE = `  queue    <client-id>                      the service's event queue: depth, oldest, failures, paused
  replay   <client-id> --since ISO-8601     deliver again everything since that time (same jti)
  resume   <client-id>                      resume a paused push stream
  delivery <client-id> --method poll|amqp|push [--push-url URL]
                                            how the service receives its events
  broker-credentials <client-id>            the service's own RabbitMQ user (read-only on its queue)`;

type Out = { log(line: string): void; error(line: string): void };

const ago = (d: Date | null) => (d ? `${d.toISOString()}` : 'never');

function describe(q: QueueView): string {
  return [
    `service:            ${q.clientId}`,
    `delivery:           ${q.method}${q.pushUrl ? ` → ${q.pushUrl}` : ''}${q.amqpQueue ? ` → queue ${q.amqpQueue}` : ''}`,
    `pending:            ${q.depth}`,
    `oldest pending:     ${q.oldestPendingAt ? `${q.oldestPendingAt.toISOString()} (${q.oldestPendingAgeSeconds} s ago)` : '-'}`,
    `last delivery:      ${ago(q.lastDeliveryAt)}`,
    `failures in a row:  ${q.consecutiveFailures}${q.lastError ? ` (last: ${q.lastError})` : ''}`,
    `failed deliveries:  ${q.failedDeliveries}`,
    `paused:             ${q.paused ? `yes, since ${q.pausedAt?.toISOString()} (cidadela service resume ${q.clientId})` : 'no'}`,
  ].join('\n');
}

/** Runs `cidadela service queue|replay|resume|delivery|broker-credentials ...`. */
export async function queueCommand(args: string[], db: Db, config: Config, out: Out): Promise<number> {
  const [command, ...rest] = args;
  const options = {
    since: { type: 'string' },
    method: { type: 'string' },
    'push-url': { type: 'string' },
    json: { type: 'boolean' },
  } as const;
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; options: typeof options; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true });
  } catch (error) {
    out.error(`${(error as Error).message}\n\n${QUEUE_USAGE}`);
    return 2;
  }
  const id = parsed.positionals[0];
  const v = parsed.values;
  if (!id) {
    out.error(QUEUE_USAGE);
    return 2;
  }
  const streams = createStreamStore(db, { amqpQueues: amqpQueueDeclarer(config.amqpUrl) });
  const show = (value: unknown, text: string) => out.log(v.json ? JSON.stringify(value, null, 2) : text);
  try {
    switch (command) {
      case 'queue': {
        const q = await streams.view(id);
        show({ queue: q }, describe(q));
        return 0;
      }
      case 'replay': {
        if (!v.since) {
          out.error('replay needs --since ISO-8601 (for example 2026-05-01T00:00:00Z)');
          return 2;
        }
        const replayed = await streams.replay(id, new Date(v.since));
        show({ replayed }, `${replayed} deliveries of ${id} will be delivered again`);
        return 0;
      }
      case 'resume': {
        const resumed = await streams.resume(id);
        show({ resumed }, resumed ? `stream of ${id} resumed` : `stream of ${id} was not paused`);
        return 0;
      }
      case 'delivery': {
        if (!v.method) {
          show({ delivery: await streams.settings(id) }, JSON.stringify(await streams.settings(id)));
          return 0;
        }
        const settings = await streams.setDelivery(id, {
          method: v.method,
          ...(v['push-url'] ? { pushUrl: v['push-url'] } : {}),
        });
        const { queues, ...delivery } = settings;
        const declared = queues?.declared
          ? `\nqueues ${queues.queue} and ${queues.deadLetterQueue} declared: its consumer can start now`
          : queues
            ? `\nAMQP_URL is not set here: the queues will be declared by the relay on its first delivery`
            : '';
        show(
          { delivery, queues },
          `${id} receives its events by ${settings.method}${settings.pushUrl ? ` at ${settings.pushUrl}` : ''}${declared}`,
        );
        return 0;
      }
      case 'broker-credentials': {
        await streams.view(id);
        if (!config.amqpManagementUrl) {
          out.error(
            `AMQP_MANAGEMENT_URL is not set; create the service's broker user yourself:\n\n${brokerInstructions(id, vhostOf(config.amqpUrl))}`,
          );
          return 1;
        }
        const account = await provisionBrokerAccount({
          managementUrl: config.amqpManagementUrl,
          amqpUrl: config.amqpUrl,
          clientId: id,
        });
        show(
          { account },
          `broker user for ${id}\n  username: ${account.username}\n  password: ${account.password}\n  (shown only now)\n  vhost:    ${account.vhost}\n  queue:    ${account.queue} (dead letters: ${account.deadLetterQueue})`,
        );
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof AppError) {
      const details = (error.details?.details as { field: string; message: string }[] | undefined) ?? [];
      const reason = typeof error.details?.reason === 'string' ? [`  ${error.details.reason}`] : [];
      out.error(
        [`error: ${error.code}`, ...details.map((d) => `  ${d.field}: ${d.message}`), ...reason].join('\n'),
      );
      return 1;
    }
    throw error;
  }
  out.error(QUEUE_USAGE);
  return 2;
}

/**
 * `cidadela relay`: the relay as its own process (several may run against one PostgreSQL).
 * Returns once it runs; SIGTERM or SIGINT stops it after the batch in flight.
 */
export async function runRelayProcess(config: Config): Promise<void> {
  if (!config.databaseUrl) {
    throw new Error(
      'cidadela relay needs DATABASE_URL (PostgreSQL); with the embedded database the relay runs inside the server',
    );
  }
  const logger = createLogger(config.logLevel, undefined, config.logFormat);
  const handle = await openDatabase({ databaseUrl: config.databaseUrl, poolSize: 6 });
  await migrate(handle.db);
  const secrets = createSecrets(config.secretKey);
  // The same rule as the servers (oidc/keys.ts): a rotated key signs once every copy publishes it.
  const keyOptions = { signAfterSeconds: 2 * config.keysReloadSeconds };
  let keysVersion = await signingKeysVersion(handle.db, keyOptions);
  const keys = await loadSigningKeys(handle.db, secrets, keyOptions);
  const events = await createEventsRuntime({
    db: handle.db,
    kind: handle.kind,
    config,
    keys,
    logger,
    listen: handle.listen,
  });
  events.relay.start();
  logger.info({ amqp: Boolean(config.amqpUrl), pid: process.pid }, 'relay running');
  let checking = false;
  const keyTimer =
    config.keysReloadSeconds > 0
      ? setInterval(async () => {
          if (checking) return;
          checking = true;
          try {
            const version = await signingKeysVersion(handle.db, keyOptions);
            if (version !== keysVersion) {
              const next = await loadSigningKeys(handle.db, secrets, keyOptions);
              await events.useKeys(next);
              keysVersion = version;
              logger.info({ kids: next.map((k) => k.kid) }, 'signing keys changed: events signed with them');
            }
          } catch (error) {
            logger.warn(
              { err: { message: (error as Error).message } },
              'signing key check failed; will retry',
            );
          } finally {
            checking = false;
          }
        }, config.keysReloadSeconds * 1000)
      : undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(keyTimer);
    logger.info({ signal }, 'relay stopping');
    events
      .close()
      .then(() => handle.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
