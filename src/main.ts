import { openServerDatabase, runCommandProcess } from './cli/cli-process.ts';
import { runRelayProcess } from './cli/relay-command.ts';
import { ConfigError, loadConfig } from './config/config.ts';
import { DataDirBusyError } from './db/pglite-lock.ts';

async function main(argv: string[]): Promise<number> {
  const [command = 'serve'] = argv;
  switch (command) {
    case 'serve': {
      const config = loadConfig();
      const database = await openServerDatabase(config, console);
      // Imported only here: the server's modules take a second or more to load, which every CLI command would pay.
      const { createApp } = await import('./app.ts');
      const app = await createApp(config, { database });
      const address = await app.listen();
      const log = app.server.log;
      if (config.secretKeyIsDevelopment)
        log.warn('using a development SECRET_KEY kept in DATA_DIR; set SECRET_KEY in production');
      log.info(
        { address, publicUrl: config.publicUrl, database: app.database.kind, pid: process.pid },
        'cidadela is listening',
      );
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
        app
          .close()
          .then(() => database.close())
          .then(
            () => process.exit(0),
            () => process.exit(1),
          );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      return -1;
    }
    case 'relay':
      await runRelayProcess(loadConfig());
      return -1;
    default:
      return runCommandProcess(argv, () => loadConfig(), console);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error) => {
    console.error(error instanceof ConfigError || error instanceof DataDirBusyError ? error.message : error);
    process.exitCode = 1;
  },
);
