/**
 * Events benchmark: outbox → RabbitMQ with publisher confirms, through the real relay, for citizens
 * each consented to 25 services (every change fans out to 25 deliveries).
 *
 *   npm run bench:events                 # PostgreSQL (DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres), RabbitMQ (AMQP_URL or guest@127.0.0.1)
 *   npm run bench:events -- --no-docs    # do not update docs/benchmarks.md
 *   npm run bench:events -- --wait-idle 300  # first wait (at most 300 s) for the machine's load to settle
 *
 * Phases: (1) throughput: a backlog of changes already committed, drained by one relay: deliveries
 * per second from outbox row to broker confirm, fan-out and ES256 signing included; (2) latency:
 * changes committed at a steady rate (the reference peak, ten times it, and 2,000 deliveries/s)
 * while the relay runs, woken by LISTEN/NOTIFY as in the server, and a consumer reads all 25
 * queues; the time from each commit to the message arriving at the consumer, p50/p99.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import { sql } from 'kysely';
import pg from 'pg';
import { createConsentStore } from '../src/consent/consent-store.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrate } from '../src/db/migrator.ts';
import { createAmqpTransport } from '../src/events/amqp-transport.ts';
import { createRelay } from '../src/events/relay.ts';
import { createSetSigner } from '../src/events/set-format.ts';
import { amqpQueueName, createStreamStore } from '../src/events/stream-store.ts';
import { createCitizenStore, writeProfile } from '../src/identity/citizen-store.ts';
import { cpfFromBase } from '../src/identity/cpf.ts';
import { loadSigningKeys } from '../src/oidc/keys.ts';
import { createSecrets } from '../src/security/secrets.ts';
import { createProviderState } from '../src/oidc/provider-state.ts';
import { createServiceStore, type Service } from '../src/services/service-store.ts';
import { machineInfo } from './lib/machine.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const SERVICES = 25;
const BEGIN = '<!-- bench-events:begin (written by npm run bench:events; edit outside these markers) -->';
const END = '<!-- bench-events:end -->';
// Curitiba's e-Cidadão: 1.7 million accesses in its busiest month.
const REFERENCE_PEAK_MONTH = 1_700_000;

const { values: args } = parseArgs({
  options: {
    citizens: { type: 'string', default: '100' },
    backlog: { type: 'string', default: '400' },
    seconds: { type: 'string', default: '15' },
    'wait-idle': { type: 'string', default: '0' },
    'no-docs': { type: 'boolean', default: false },
  },
});
const citizensCount = Number(args.citizens);
const backlog = Number(args.backlog);
const seconds = Number(args.seconds);

const log = (line: string) => process.stderr.write(`${line}\n`);
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const ADDRESS = {
  street_address: 'Rua XV de Novembro',
  locality: 'Curitiba',
  region: 'PR',
  postal_code: '80010-000',
  country: 'BR',
};

const loadAverage = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/** Other work on the machine distorts the figures: wait, bounded, until the 1-minute load is low. */
async function waitIdle(maxSeconds: number) {
  const deadline = Date.now() + maxSeconds * 1000;
  while (Date.now() < deadline && loadAverage() > 0.5) await new Promise((r) => setTimeout(r, 5000));
}

async function main() {
  if (Number(args['wait-idle']) > 0) {
    log(`waiting up to ${args['wait-idle']} s for the machine to be idle (load ${loadAverage()})…`);
    await waitIdle(Number(args['wait-idle']));
  }
  const loadBefore = loadAverage();
  const base = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
  const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
  const dbName = `cidadela_bench_events_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base.href });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const url = new URL(base.href);
  url.pathname = `/${dbName}`;
  const handle = await openDatabase({ databaseUrl: url.href, poolSize: 12 });
  const { db } = handle;
  const queues: string[] = [];
  const cleanup = async () => {
    const c = await amqp.connect(amqpUrl).catch(() => undefined);
    if (c) {
      for (const q of queues) {
        const ch = await c.createChannel();
        ch.on('error', () => {});
        await ch.deleteQueue(q).catch(() => {});
        await ch.deleteQueue(`${q}.dlq`).catch(() => {});
        await ch.close().catch(() => {});
      }
      await c.close().catch(() => {});
    }
    await handle.close();
    const a = new pg.Client({ connectionString: base.href });
    await a.connect();
    await a.query(`drop database if exists ${dbName} with (force)`);
    await a.end();
  };

  try {
    await migrate(db);
    const issuer = 'https://cidadela.bench.invalid';
    const signer = await createSetSigner(
      await loadSigningKeys(db, createSecrets('bench-secret-key-0123456789-abcdefghijklmnop')),
    );
    log(`seeding ${SERVICES} services and ${citizensCount} citizens, each consented to every service…`);
    const services = createServiceStore(db, { provider: createProviderState() });
    const streams = createStreamStore(db);
    const consents = createConsentStore(db, { provider: createProviderState() });
    const citizens = createCitizenStore(db);
    const serviceList: Service[] = [];
    for (let i = 0; i < SERVICES; i++) {
      const { service } = await services.add({
        clientId: `bench-${i}-${randomBytes(3).toString('hex')}`,
        name: `Serviço ${i}`,
        redirectUris: ['https://servico.bench.invalid/cb'],
        fields: ['name', 'email', 'address'].map((key) => ({ key, required: true, purpose: 'bench' })),
      });
      await streams.setDelivery(service.clientId, { method: 'amqp' });
      queues.push(amqpQueueName(service.clientId));
      serviceList.push(service);
    }
    const citizenIds: string[] = [];
    for (let i = 0; i < citizensCount; i++) {
      const c = await citizens.create({
        cpf: cpfFromBase(String(100_000_000 + i).slice(-9)),
        email: `bench.${i}@example.test`,
        name: 'Cidadã de Teste',
        socialName: null,
        birthdate: '1980-01-01',
        phoneNumber: null,
        passwordHash: 'x',
        locale: 'pt-BR',
      });
      citizenIds.push(c.id);
      await db.transaction().execute(async (trx) => {
        await writeProfile(trx, c, { address: { ...ADDRESS, number: '0' } });
        for (const service of serviceList) {
          await consents.grant(trx, {
            citizenId: c.id,
            service,
            fieldsShared: ['name', 'email', 'address'],
            context: { ip: null, userAgent: null, acr: null, amr: null },
          });
        }
      });
    }

    const transport = createAmqpTransport({ url: amqpUrl });
    const relay = createRelay({
      db,
      issuer,
      signer,
      lockStreams: true,
      amqp: transport,
      pauseAfter: 10,
      retryBaseMs: 200,
      retryMaxMs: 2000,
      // As in the server: woken by the outbox's NOTIFY, polling only as the safety net.
      listen: handle.listen,
    });
    log('delivering the consent events of the seed (not measured)…');
    for (let i = 0; i < 200; i++) {
      await relay.runOnce();
      if (await idle(db)) break;
    }
    const purge = await amqp.connect(amqpUrl);
    const pch = await purge.createChannel();
    for (const q of queues) await pch.purgeQueue(q);
    await purge.close();

    // Phase 1: throughput.
    log(`committing a backlog of ${backlog} changes (${backlog * SERVICES} deliveries)…`);
    for (let i = 0; i < backlog; i++) {
      const id = citizenIds[i % citizenIds.length]!;
      const c = (await citizens.findById(id))!;
      await db
        .transaction()
        .execute((trx) => writeProfile(trx, c, { address: { ...ADDRESS, number: `b${i}` } }));
    }
    const deliveriesBefore = await sentCount(db);
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      await relay.runOnce();
      if (await idle(db)) break;
    }
    const elapsed = (performance.now() - t0) / 1000;
    const delivered = (await sentCount(db)) - deliveriesBefore;
    const throughput = delivered / elapsed;
    const inBroker = await messageCount(amqpUrl, queues);
    log(
      `throughput: ${delivered} deliveries in ${elapsed.toFixed(2)} s = ${throughput.toFixed(0)}/s (broker holds ${inBroker})`,
    );
    const purge2 = await amqp.connect(amqpUrl);
    const pch2 = await purge2.createChannel();
    for (const q of queues) await pch2.purgeQueue(q);
    await purge2.close();

    // Phase 2: latency at steady rates, relay running, a consumer reading every queue.
    const referencePeakPerSecond = REFERENCE_PEAK_MONTH / (30 * 86_400);
    const referencePeak = Math.ceil(referencePeakPerSecond * 4); // peak hour ≈ 4× the month's average
    const tenTimesPeak = Math.ceil(10 * referencePeakPerSecond * 4);
    const rates = [referencePeak, tenTimesPeak, 2000 / SERVICES];
    relay.start();
    const latency: {
      changesPerSecond: number;
      deliveriesPerSecond: number;
      p50: number;
      p99: number;
      max: number;
      count: number;
      lost: number;
    }[] = [];
    for (const rate of rates) {
      log(`latency at ${rate} changes/s (${rate * SERVICES} deliveries/s) for ${seconds} s…`);
      latency.push(await measureLatency(db, citizens, citizenIds, amqpUrl, queues, rate, seconds));
      const l = latency.at(-1)!;
      log(
        `  p50 ${l.p50.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms, max ${l.max.toFixed(0)} ms over ${l.count} deliveries, ${l.lost} missing`,
      );
    }
    await relay.stop();
    await transport.close();

    const loadAfter = loadAverage();
    const machine = machineInfo();
    const pgVersion = (await sql<{ v: string }>`select current_setting('server_version') as v`.execute(db))
      .rows[0]?.v;
    const section = [
      BEGIN,
      '## Events: outbox to RabbitMQ',
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:events\` on ${machine.nproc} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${pgVersion}, RabbitMQ on the same machine (1-minute load average ${loadBefore.toFixed(1)} before the run, ${loadAfter.toFixed(1)} after: other work on the machine shows there). One relay in the bench process (4 workers, each claiming up to 16 service streams and awaiting their confirms together); ${SERVICES} services receiving by AMQP, ${citizensCount} citizens each consented to all ${SERVICES}: every change is ${SERVICES} deliveries, each an ES256-signed SET published persistent to the service's quorum queue and marked sent after the broker's confirm.`,
      '',
      '| measure | result | target |',
      '| --- | --- | --- |',
      `| throughput, backlog of ${backlog} changes drained (fan-out, signing, publish, confirm, mark) | **${throughput.toFixed(0)} deliveries/s** (${delivered} in ${elapsed.toFixed(1)} s) | 2,000/s ${throughput >= 2000 ? '✔' : '✘'} |`,
      ...latency.map((l) => {
        const atPeak = l.changesPerSecond === referencePeak;
        const label = atPeak
          ? ', the reference peak'
          : l.changesPerSecond === tenTimesPeak
            ? ', ten times the reference peak'
            : '';
        const target = atPeak
          ? `p50 < 20 ms ${l.p50 < 20 ? '✔' : '✘'}, p99 < 100 ms ${l.p99 < 100 ? '✔' : '✘'}`
          : `p99 < 1 s ${l.p99 < 1000 ? '✔' : '✘'}`;
        return `| commit → consumer latency at ${l.changesPerSecond} changes/s (${l.deliveriesPerSecond} deliveries/s${label}) | p50 **${l.p50.toFixed(0)} ms**, p99 **${l.p99.toFixed(0)} ms**, max ${l.max.toFixed(0)} ms (${l.count} deliveries${l.lost ? `, ${l.lost} not seen within the wait` : ''}) | ${target} |`;
      }),
      '',
      `The reference peak: e-Cidadão's busiest month had ${REFERENCE_PEAK_MONTH.toLocaleString('en-US')} accesses, ${referencePeakPerSecond.toFixed(2)}/s on average; taking the peak hour as four times that and every access as a change to the citizen's data (far more than in reality), the peak is ${referencePeak} changes/s and ten times it ${tenTimesPeak} changes/s. The last rate is the 2,000 deliveries/s target. Each rate is sustained for ${seconds} s, changes committed open-loop at even intervals. The relay is woken by PostgreSQL LISTEN/NOTIFY from the outbox insert's transaction and polls only as a safety net (every second), as in the server; commit → consumer is from the producer's commit returning to the consumer's callback for each of the ${SERVICES} messages.`,
      ...(Math.max(loadBefore, loadAfter) > machine.nproc
        ? [
            '',
            `**This run is not representative:** the machine's load average (${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after) was above its ${machine.nproc} cores, so the relay, PostgreSQL and RabbitMQ waited for the CPU most of the time; the latencies measure that queue more than Cidadela. Run again on a quiet machine (\`npm run bench:events -- --wait-idle 600\`).`,
          ]
        : []),
      END,
    ].join('\n');
    console.log(section);
    if (!args['no-docs']) {
      const file = join(ROOT, 'docs/benchmarks.md');
      const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
      const start = current.indexOf(BEGIN);
      const end = current.indexOf(END);
      writeFileSync(
        file,
        start >= 0 && end > start
          ? current.slice(0, start) + section + current.slice(end + END.length)
          : `${current.trimEnd()}\n\n${section}\n`,
      );
      log('updated docs/benchmarks.md (its own section only)');
    }
  } finally {
    await cleanup();
  }
}

async function idle(db: Awaited<ReturnType<typeof openDatabase>>['db']): Promise<boolean> {
  const r = await sql<{ pending: string; unfanned: string }>`select
      (select count(*) from event_deliveries where status = 'pending') as pending,
      (select count(*) from events where fanned_out_at is null) as unfanned`.execute(db);
  return Number(r.rows[0]!.pending) === 0 && Number(r.rows[0]!.unfanned) === 0;
}

async function sentCount(db: Awaited<ReturnType<typeof openDatabase>>['db']): Promise<number> {
  const r = await sql<{
    n: string;
  }>`select count(*) as n from event_deliveries where status = 'sent'`.execute(db);
  return Number(r.rows[0]!.n);
}

async function messageCount(url: string, queues: string[]): Promise<number> {
  const c = await amqp.connect(url);
  const ch = await c.createChannel();
  let total = 0;
  for (const q of queues) total += (await ch.checkQueue(q)).messageCount;
  await c.close();
  return total;
}

async function measureLatency(
  db: Awaited<ReturnType<typeof openDatabase>>['db'],
  citizens: ReturnType<typeof createCitizenStore>,
  citizenIds: string[],
  amqpUrl: string,
  queues: string[],
  rate: number,
  seconds: number,
) {
  const committedAt = new Map<string, number>();
  // Receive times by event id (txn); matched with commit times at the end, since a message can
  // arrive before the producer has noted its commit.
  const receivedAt: [string, number][] = [];
  const connection = await amqp.connect(amqpUrl);
  const channel = await connection.createChannel();
  await channel.prefetch(2000);
  for (const q of queues) {
    await channel.consume(q, (m) => {
      if (!m) return;
      const now = performance.now();
      const payload = JSON.parse(Buffer.from(m.content.toString().split('.')[1]!, 'base64url').toString());
      receivedAt.push([String(payload.txn), now]);
      channel.ack(m);
    });
  }
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    // Open loop: each change starts at its scheduled time, whatever the previous ones are doing.
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = citizenIds[i % citizenIds.length]!;
    const p = (async () => {
      const c = (await citizens.findById(id))!;
      const eventId = await db.transaction().execute(async (trx) => {
        await writeProfile(trx, c, { address: { ...ADDRESS, number: `l${rate}-${i}` } });
        const r = await sql<{
          id: string;
        }>`select currval(pg_get_serial_sequence('events', 'id'))::text as id`.execute(trx);
        return r.rows[0]!.id;
      });
      committedAt.set(eventId, performance.now());
    })();
    inFlight.add(p);
    p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  const expected = total * queues.length;
  const deadline = performance.now() + 30_000;
  while (receivedAt.length < expected && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  await connection.close();
  const latencies = receivedAt
    .filter(([txn]) => committedAt.has(txn))
    .map(([txn, at]) => at - committedAt.get(txn)!);
  const sorted = latencies.sort((a, b) => a - b);
  return {
    changesPerSecond: rate,
    deliveriesPerSecond: rate * queues.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    count: sorted.length,
    lost: Math.max(0, expected - sorted.length),
  };
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
