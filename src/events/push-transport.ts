import { SET_MEDIA_TYPE } from './set-format.ts';
import type { Outgoing, Transport } from './transport.ts';

async function errorOf(response: Response): Promise<string> {
  let detail = '';
  try {
    const text = (await response.text()).slice(0, 2000);
    const body = JSON.parse(text) as { err?: unknown; description?: unknown };
    if (typeof body.err === 'string')
      detail = `: ${body.err}${typeof body.description === 'string' ? ` (${body.description.slice(0, 200)})` : ''}`;
  } catch {}
  return `HTTP ${response.status}${detail}`;
}

/**
 * Push delivery (RFC 8935): each SET is POSTed as application/secevent+jwt to the service's URL,
 * one at a time and in order; 202 Accepted is the only answer that counts as delivered. A SET the
 * service refuses (a 400 with an `err`) is retried like any failure: nothing is dropped silently,
 * and the operator sees the error and the paused stream.
 */
export function createPushTransport(opts: { timeoutMs: number }): Transport {
  return {
    name: 'push',
    async deliver(stream, batch: Outgoing[]) {
      if (!stream.pushUrl) return { delivered: 0, error: new Error('no push URL configured') };
      let delivered = 0;
      for (const item of batch) {
        let response: Response;
        try {
          response = await fetch(stream.pushUrl, {
            method: 'POST',
            headers: { 'content-type': SET_MEDIA_TYPE, accept: 'application/json' },
            body: item.token,
            redirect: 'manual',
            signal: AbortSignal.timeout(opts.timeoutMs),
          });
        } catch (error) {
          const e = error as Error & { cause?: { code?: string } };
          const reason =
            e.name === 'TimeoutError'
              ? `no answer within ${opts.timeoutMs} ms`
              : (e.cause?.code ?? e.message);
          return { delivered, error: new Error(reason) };
        }
        if (response.status !== 202) return { delivered, error: new Error(await errorOf(response)) };
        await response.body?.cancel().catch(() => {});
        delivered++;
      }
      return { delivered };
    },
  };
}
