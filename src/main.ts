import { CITIZEN_USAGE, citizenCommand } from './cli/citizen-command.ts';
import { QUEUE_COMMANDS, QUEUE_USAGE, queueCommand, runRelayProcess } from './cli/relay-command.ts';
import { serviceCommand, SERVICE_USAGE } from './cli/service-command.ts';
import { ConfigError, loadConfig } from './config/config.ts';
import { openDatabase } from './db/database.ts';
import { migrate } from './db/migrator.ts';
import { rotateSigningKeys } from './oidc/keys.ts';
import { createSecrets } from './security/secrets.ts';
import { createProviderState } from './oidc/provider-state.ts';
import { createServiceStore } from './services/service-store.ts';

const USAGE = `cidadela <command>

  serve                 start the server (default)
  migrate               apply database migrations
  service ...           manage integrated services (cidadela service --help)
  citizen ...           disable, enable or delete an account (cidadela citizen --help)
  relay                 run the event relay on its own (needs DATABASE_URL)
  cert ...              read and check ICP-Brasil certificates (cidadela cert --help); no database
  keys rotate           new signing keys (servers pick them up); old ones stay published for a day

Configuration comes from the environment; see the README.`;

async function withDatabase<T>(fn: (db: Awaited<ReturnType<typeof openDatabase>>, config: ReturnType<typeof loadConfig>) => Promise<T>) {
  const config = loadConfig();
  const handle = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrate(handle.db);
    return await fn(handle, config);
  } finally {
    await handle.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  switch (command) {
    case 'serve': {
      const config = loadConfig();
      // Imported only here: the server's modules take a second or more to load, which every CLI command would pay.
      const { createApp } = await import('./app.ts');
      const app = await createApp(config);
      const address = await app.listen();
      const log = app.server.log;
      if (config.secretKeyIsDevelopment) log.warn('using a development SECRET_KEY kept in DATA_DIR; set SECRET_KEY in production');
      log.info({ address, publicUrl: config.publicUrl, database: app.database.kind }, 'cidadela is listening');
      if (config.demo) {
        process.stdout.write(
          `\n  Cidadela is running at ${config.publicUrl}\n  Try the demo service:  ${config.publicUrl}/demo/demo-servico\n${
            config.smtpUrl ? '' : `  Mail it sends:         ${config.publicUrl}/dev/outbox\n`
          }\n`,
        );
      }
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down: finishing requests in flight');
        app.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      return -1;
    }
    case 'migrate':
      return withDatabase(async ({ db }) => {
        const applied = await migrate(db);
        console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
        return 0;
      });
    case 'service':
      if (!rest[0] || rest[0] === '--help' || rest[0] === 'help') {
        console.log(`${SERVICE_USAGE}\n\n${QUEUE_USAGE}`);
        return rest[0] ? 0 : 2;
      }
      if (QUEUE_COMMANDS.has(rest[0])) return withDatabase(({ db }, config) => queueCommand(rest, db, config, console));
      return withDatabase(({ db }) => serviceCommand(rest, createServiceStore(db, { provider: createProviderState() }), console));
    case 'citizen':
      if (!rest[0] || rest[0] === '--help' || rest[0] === 'help') {
        console.log(CITIZEN_USAGE);
        return rest[0] ? 0 : 2;
      }
      return withDatabase(({ db }) => citizenCommand(rest, db, console));
    case 'cert': {
      // Imported only here: the certificate libraries are not worth loading for every other command.
      const { certCommand } = await import('./cli/cert-command.ts');
      return certCommand(rest, console);
    }
    case 'relay':
      await runRelayProcess(loadConfig());
      return -1;
    case 'keys':
      if (rest[0] !== 'rotate') break;
      return withDatabase(async ({ db }, config) => {
        const kids = await rotateSigningKeys(db, createSecrets(config.secretKey));
        const every = config.keysReloadSeconds;
        console.log(
          `new signing keys: ${kids.join(', ')}\n${
            every > 0
              ? `running servers publish them within ${every} s and sign with them after ${2 * every} s; the old keys stay published for a day`
              : 'KEYS_RELOAD_SECONDS=0: restart the servers (one at a time) to publish and sign with them'
          }\nrestart \`cidadela relay\` processes: they sign events with the keys they started with`,
        );
        return 0;
      });
    case 'help':
    case '--help':
      console.log(USAGE);
      return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exitCode = 1;
  },
);
