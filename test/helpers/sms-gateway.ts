import { createServer } from 'node:http';

/** One SMS as the carrier received it. */
export type ReceivedSms = { to: string; text: string; auth: string | undefined };

/**
 * The SMS carrier cannot run in tests: an HTTP gateway on loopback takes the place of the city's,
 * behind the same HTTP adapter production uses (SMS_GATEWAY_URL). It records every SMS it accepts.
 */
export async function startSmsGateway() {
  const received: ReceivedSms[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { to: string; text: string };
      received.push({ to: parsed.to, text: parsed.text, auth: req.headers.authorization });
      res.statusCode = 202;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  /** Every SMS to `to`, in the order received. */
  const to = (number: string) => received.filter((r) => r.to === number);

  return {
    url: `http://127.0.0.1:${port}/sms`,
    received,
    to,
    /** How many SMS `to` has received. */
    count: (number: string) => to(number).length,
    /**
     * The `count`-th SMS to `number`, once it has arrived. Waits on the gateway receiving it; the
     * limit only bounds a hang (the test's own timeout would too).
     */
    async waitFor(number: string, count = 1, limitMs = 60_000): Promise<ReceivedSms> {
      const deadline = Date.now() + limitMs;
      while (Date.now() < deadline) {
        const mine = to(number);
        if (mine.length >= count) return mine[count - 1]!;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no SMS number ${count} to ${number}`);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type SmsGateway = Awaited<ReturnType<typeof startSmsGateway>>;

/** The six-digit code in an SMS. */
export const smsCodeOf = (text: string) => text.match(/\b(\d{6})\b/)![1]!;
