/** One SET on its way to a service: `token` is the signed SET, `jti` its id. */
export type Outgoing = { id: string; jti: string; eventType: string; token: string };

export type StreamRef = { clientId: string; pushUrl: string | null };

/**
 * `delivered`: how many of the batch, from its start, the other side has taken for sure (the
 * relay marks exactly those as sent); `error`: why it stopped before the end.
 */
export type DeliverResult = { delivered: number; error?: Error };

/** A way to hand a service its SETs, in order. */
export type Transport = {
  name: 'amqp' | 'push';
  deliver(stream: StreamRef, batch: Outgoing[]): Promise<DeliverResult>;
  /** Connects if needed; throws when the other side cannot be reached (called before any lock). */
  ready?(): Promise<void>;
  /** True while connected: `ready()` would return at once, so the relay need not check first whether it is worth calling. */
  connected?(): boolean;
};
