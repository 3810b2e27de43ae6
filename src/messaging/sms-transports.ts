import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OutgoingSms, SmsTransport } from './message-queue.ts';

/**
 * A carrier's HTTP gateway: POST {"to": E.164, "text": ...} with a bearer token; any 2xx is
 * accepted. Carriers differ in their APIs; a small proxy of the city's adapts this one shape.
 */
export function httpSmsGateway(url: string, token: string | undefined): SmsTransport {
  return {
    keepsBodies: false,
    async send(sms: OutgoingSms) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ to: sms.to, text: sms.text }),
        signal: AbortSignal.timeout(10_000),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`SMS gateway answered ${response.status}`);
    },
  };
}

/** Development: each SMS is a file in DATA_DIR/outbox and stays readable at /dev/outbox. */
export function devSmsOutbox(dataDir: string): SmsTransport {
  const dir = join(dataDir, 'outbox');
  return {
    keepsBodies: true,
    async send(sms: OutgoingSms) {
      mkdirSync(dir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-sms-${Math.random().toString(36).slice(2, 8)}.txt`;
      writeFileSync(join(dir, name), `SMS to: ${sms.to}\n\n${sms.text}\n`, { mode: 0o600 });
    },
  };
}
