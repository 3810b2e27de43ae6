import type { Config } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import { migrate } from '../db/migrator.ts';
import { rotateSigningKeys } from '../oidc/keys.ts';
import { createSecrets } from '../security/secrets.ts';
import { createProviderState } from '../oidc/provider-state.ts';
import { createServiceStore } from '../services/service-store.ts';
import { CITIZEN_USAGE, citizenCommand } from './citizen-command.ts';
import { OPERATOR_USAGE, operatorCommand } from './operator-command.ts';
import { QUEUE_COMMANDS, QUEUE_USAGE, queueCommand } from './relay-command.ts';
import { SERVICE_USAGE, serviceCommand } from './service-command.ts';

export const USAGE = `cidadela <command>

  serve                 start the server (default)
  migrate               apply database migrations
  service ...           manage integrated services (cidadela service --help)
  citizen ...           disable, enable or delete an account (cidadela citizen --help)
  operator ...          grant, revoke or list console roles (cidadela operator --help)
  relay                 run the event relay on its own (needs DATABASE_URL)
  cert ...              read and check ICP-Brasil certificates (cidadela cert --help); no database
  keys rotate           new signing keys (servers and relays pick them up); old ones stay published for a day

Configuration comes from the environment; see the README.`;

export type Out = { log(line: string): void; error(line: string): void };

/**
 * What a command needs from where it runs: in its own process (`cidadela …` opening the database)
 * or inside the server that holds the embedded database (src/cli/command-socket.ts), or in a test.
 */
export type CommandContext = {
  out: Out;
  /** Reads a file the operator named; through the server, the copy the `cidadela` process sent. */
  readFile(path: string): string;
  /** Runs `fn` with an open, migrated database and the configuration that goes with it. */
  withDatabase<T>(fn: (db: Db, config: Config) => Promise<T>): Promise<T>;
};

const isHelp = (word: string | undefined) => !word || word === '--help' || word === 'help';

/** Whether `runCommand(argv)` will ask for the database (help and usage errors do not). */
export function needsDatabase(argv: string[]): boolean {
  const [command, sub] = argv;
  if (command === 'migrate') return true;
  if (command === 'service' || command === 'citizen' || command === 'operator') return !isHelp(sub);
  return command === 'keys' && sub === 'rotate';
}

/**
 * Every `cidadela` command that works on the database (all but `serve` and `relay`, which are
 * processes of their own); returns the exit code.
 */
export async function runCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { out } = ctx;
  const [command, ...rest] = argv;
  switch (command) {
    case 'migrate':
      return ctx.withDatabase(async (db) => {
        const applied = await migrate(db);
        out.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
        return 0;
      });
    case 'service':
      if (isHelp(rest[0])) {
        out.log(`${SERVICE_USAGE}\n\n${QUEUE_USAGE}`);
        return rest[0] ? 0 : 2;
      }
      if (QUEUE_COMMANDS.has(rest[0]!))
        return ctx.withDatabase((db, config) => queueCommand(rest, db, config, out));
      return ctx.withDatabase((db) => serviceCommand(rest, createServiceStore(db, { provider: createProviderState() }), out, ctx.readFile));
    case 'citizen':
      if (isHelp(rest[0])) {
        out.log(CITIZEN_USAGE);
        return rest[0] ? 0 : 2;
      }
      return ctx.withDatabase((db) => citizenCommand(rest, db, out));
    case 'operator':
      if (isHelp(rest[0])) {
        out.log(OPERATOR_USAGE);
        return rest[0] ? 0 : 2;
      }
      return ctx.withDatabase((db) => operatorCommand(rest, db, out));
    case 'keys':
      if (rest[0] !== 'rotate') break;
      return ctx.withDatabase(async (db, config) => {
        const kids = await rotateSigningKeys(db, createSecrets(config.secretKey));
        out.log(`new signing keys: ${kids.join(', ')}\n${keysRotatedAdvice(config.keysReloadSeconds)}`);
        return 0;
      });
    case 'cert': {
      // Imported only here: the certificate libraries are not worth loading for every other command.
      const { certCommand } = await import('./cert-command.ts');
      return certCommand(rest, out);
    }
    case 'help':
    case '--help':
      out.log(USAGE);
      return 0;
  }
  out.error(USAGE);
  return 2;
}

/** Servers and `cidadela relay` processes both poll for new keys (decision 0008): no restart. */
function keysRotatedAdvice(every: number): string {
  return every > 0
    ? `running servers publish them within ${every} s; servers and \`cidadela relay\` processes sign with them after ${2 * every} s (they look for new keys by themselves); the old keys stay published for a day`
    : 'KEYS_RELOAD_SECONDS=0: restart the servers (one at a time) and any `cidadela relay` processes to publish and sign with them';
}
