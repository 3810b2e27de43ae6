import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import type { Listen } from '../db/notifications.ts';
import type { PrivateJwk } from '../oidc/keys.ts';
import { createAmqpTransport } from './amqp-transport.ts';
import { createPushTransport } from './push-transport.ts';
import { createRelay, type Relay } from './relay.ts';
import { createSetSigner, type SetSigner } from './set-format.ts';

export type EventsRuntime = {
  signer: SetSigner;
  relay: Relay;
  /** Signs from now on with these keys' ES256 signer (the server's keys were rotated). */
  useKeys(keys: PrivateJwk[]): Promise<void>;
  close(): Promise<void>;
};

/** The relay and its transports as the configuration asks (used by `serve` and `cidadela relay`). */
export async function createEventsRuntime(deps: {
  db: Db;
  kind: 'postgres' | 'pglite';
  config: Config;
  keys: PrivateJwk[];
  logger: Logger;
  /** LISTEN/NOTIFY of the database: the relay wakes on a commit instead of its next poll. */
  listen?: Listen | undefined;
}): Promise<EventsRuntime> {
  const { config, logger } = deps;
  let current = await createSetSigner(deps.keys);
  // The relay and the poll endpoint keep this object; it signs with whatever keys are current.
  const signer: SetSigner = {
    get kid() {
      return current.kid;
    },
    sign: (claims) => current.sign(claims),
  };
  const amqp = config.amqpUrl ? createAmqpTransport({ url: config.amqpUrl }) : undefined;
  const relay = createRelay({
    db: deps.db,
    issuer: config.publicUrl,
    signer,
    lockStreams: deps.kind === 'postgres',
    listen: deps.listen,
    amqp,
    push: createPushTransport({ timeoutMs: config.events.pushTimeoutMs }),
    pauseAfter: config.events.pauseAfter,
    retryBaseMs: 1000,
    retryMaxMs: config.events.retryMaxSeconds * 1000,
    retentionDays: config.events.retentionDays,
    onError: (error, context) => {
      if (context.task === 'listen')
        logger.warn({ err: { message: error.message } }, 'relay cannot listen for commits; it polls instead');
      else if (context.paused)
        logger.error(
          { err: { message: error.message }, ...context },
          'event stream paused after repeated failures',
        );
      else logger.warn({ err: { message: error.message }, ...context }, 'event delivery failed; will retry');
    },
  });
  return {
    signer,
    relay,
    async useKeys(keys) {
      current = await createSetSigner(keys);
    },
    async close() {
      await relay.stop();
      await amqp?.close();
    },
  };
}
