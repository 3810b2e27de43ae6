import client from 'prom-client';

/** One registry per app instance, so tests can run several servers in one process. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const requests = new client.Counter({
    name: 'cidadela_http_requests_total',
    help: 'HTTP requests by route and status class',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'cidadela_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const logins = new client.Counter({
    name: 'cidadela_logins_total',
    help: 'Password login attempts by result',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const codes = new client.Counter({
    name: 'cidadela_codes_total',
    help: 'One-time codes sent and proven, by channel and purpose (SMS pumping shows as a falling verified/sent ratio)',
    labelNames: ['channel', 'purpose', 'stage'] as const,
    registers: [registry],
  });
  return {
    registry,
    codes: {
      sent: (channel: string, purpose: string) => codes.inc({ channel, purpose, stage: 'sent' }),
      verified: (channel: string, purpose: string) => codes.inc({ channel, purpose, stage: 'verified' }),
    },
    observe(route: string, status: number, seconds: number) {
      requests.inc({ route, status: `${Math.floor(status / 100)}xx` });
      latency.observe({ route }, seconds);
    },
    login: { record: (result: 'success' | 'invalid' | 'throttled') => logins.inc({ result }) },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
