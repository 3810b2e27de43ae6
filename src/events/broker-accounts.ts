import { randomBytes } from 'node:crypto';
import { AppError } from '../platform/errors.ts';
import { amqpQueueName, deadLetterQueueName } from './stream-store.ts';

export type BrokerAccount = {
  username: string;
  password: string;
  vhost: string;
  queue: string;
  deadLetterQueue: string;
};

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function brokerUsername(clientId: string): string {
  return amqpQueueName(clientId);
}

/** The virtual host of an AMQP URL ('/' when the path is empty). */
export function vhostOf(amqpUrl: string | undefined): string {
  if (!amqpUrl) return '/';
  const path = new URL(amqpUrl).pathname.slice(1);
  return path ? decodeURIComponent(path) : '/';
}

/** What the service's broker user may do: read (consume) its own queue and dead-letter queue, nothing else. */
export function brokerPermissions(clientId: string) {
  return { configure: '^$', write: '^$', read: `^${escapeRegex(amqpQueueName(clientId))}(\\.dlq)?$` };
}

/** The same, as rabbitmqctl commands for an operator without the management API. */
export function brokerInstructions(clientId: string, vhost: string): string {
  const p = brokerPermissions(clientId);
  const user = brokerUsername(clientId);
  return [
    `rabbitmqctl add_user '${user}' '<a long random password>'`,
    `rabbitmqctl set_permissions -p '${vhost}' '${user}' '${p.configure}' '${p.write}' '${p.read}'`,
  ].join('\n');
}

/**
 * Creates (or resets the password of) the service's own broker user through RabbitMQ's HTTP
 * management API, allowed to read only its queue and its dead-letter queue. The password is
 * returned once and kept nowhere.
 */
export async function provisionBrokerAccount(opts: {
  managementUrl: string;
  amqpUrl: string | undefined;
  clientId: string;
  timeoutMs?: number;
}): Promise<BrokerAccount> {
  const base = new URL(opts.managementUrl);
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64')}`;
  base.username = '';
  base.password = '';
  const root = base.href.replace(/\/+$/, '');
  const vhost = vhostOf(opts.amqpUrl);
  const username = brokerUsername(opts.clientId);
  const password = randomBytes(24).toString('base64url');
  // Any failure of the management API is the broker's side: a 503 to retry, with what went wrong
  // for the operator (never the management URL, which holds its password).
  const call = async (path: string, body: unknown) => {
    let response: Response;
    try {
      response = await fetch(`${root}${path}`, {
        method: 'PUT',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      throw new AppError('broker.unavailable', 503, {
        reason: `RabbitMQ management API unreachable: ${e.cause?.code ?? e.name}`,
      });
    }
    await response.body?.cancel().catch(() => {});
    if (response.status !== 201 && response.status !== 204) {
      throw new AppError('broker.unavailable', 503, {
        reason: `RabbitMQ management API answered ${response.status} to PUT ${path.split('/').slice(0, 3).join('/')}`,
      });
    }
  };
  await call(`/api/users/${encodeURIComponent(username)}`, { password, tags: '' });
  await call(
    `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(username)}`,
    brokerPermissions(opts.clientId),
  );
  return {
    username,
    password,
    vhost,
    queue: amqpQueueName(opts.clientId),
    deadLetterQueue: deadLetterQueueName(opts.clientId),
  };
}
