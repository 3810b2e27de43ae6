import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.ts';
import { type DatabaseHandle, openDatabase } from '../db/database.ts';
import { migrate } from '../db/migrator.ts';
import { DataDirBusyError, type LockHolder } from '../db/pglite-lock.ts';
import { commandSocketPath, sendCommand } from './command-socket.ts';
import { type CommandContext, needsDatabase, type Out, runCommand } from './commands.ts';

/**
 * How a `cidadela` process reaches the database (decision 0016). PostgreSQL takes any number of
 * processes: the command opens it. The embedded database takes one: when a server holds it, the
 * command goes through the server's socket in DATA_DIR; when nothing does, the command takes the
 * lock and opens it; while another command holds it (or a server is still starting), it waits.
 */

/** Long enough for a server to start on a slow machine, or another command to finish. */
export const WAIT_FOR_DATA_DIR_MS = 120_000;
const POLL_MS = 200;

const readFile = (path: string) => readFileSync(path, 'utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function busyMessage(config: Config, holder: LockHolder): string {
  return `error: the embedded database in ${config.dataDir} is held by ${holder.what} (pid ${holder.pid}) since ${holder.since}, and no server answers on ${commandSocketPath(config.dataDir)}.
If no such process runs, delete ${config.dataDir}/pglite.lock. To run several processes at once, use PostgreSQL (DATABASE_URL).`;
}

async function runWith(argv: string[], handle: DatabaseHandle, config: Config, out: Out): Promise<number> {
  try {
    // `migrate` reports what it applied, so it must find the migrations still to do.
    if (argv[0] !== 'migrate') await migrate(handle.db);
    const ctx: CommandContext = { out, readFile, withDatabase: (fn) => fn(handle.db, config) };
    return await runCommand(argv, ctx);
  } finally {
    await handle.close();
  }
}

export type WaitOptions = { waitMs?: number; pollMs?: number };

/** Runs `cidadela <argv>` (any command but serve and relay) in this process; returns the exit code. */
export async function runCommandProcess(
  argv: string[],
  loadConfig: () => Config,
  out: Out,
  wait: WaitOptions = {},
): Promise<number> {
  // Help needs no configuration (nor a development secret written to DATA_DIR).
  if (!needsDatabase(argv)) {
    return runCommand(argv, {
      out,
      readFile,
      withDatabase: () => Promise.reject(new Error('this command does not use the database')),
    });
  }
  const config = loadConfig();
  if (config.databaseUrl)
    return runWith(argv, await openDatabase({ databaseUrl: config.databaseUrl, poolSize: 2 }), config, out);

  const socket = commandSocketPath(config.dataDir);
  const deadline = Date.now() + (wait.waitMs ?? WAIT_FOR_DATA_DIR_MS);
  let told = false;
  for (;;) {
    const viaServer = await sendCommand(socket, argv, out);
    if (viaServer !== undefined) return viaServer;
    let handle: DatabaseHandle;
    try {
      handle = await openDatabase({
        dataDir: config.dataDir,
        lockAs: { role: 'command', what: `cidadela ${argv.slice(0, 2).join(' ')}` },
      });
    } catch (error) {
      if (!(error instanceof DataDirBusyError)) throw error;
      if (Date.now() > deadline) {
        out.error(busyMessage(config, error.holder));
        return 1;
      }
      if (!told) {
        told = true;
        out.error(
          `waiting for ${error.holder.what} (pid ${error.holder.pid}), which holds the embedded database in ${config.dataDir}…`,
        );
      }
      await sleep(wait.pollMs ?? POLL_MS);
      continue;
    }
    return runWith(argv, handle, config, out);
  }
}

/**
 * The server's database. On the embedded one a running server refuses a second (it would be two
 * processes on one folder); a command holding it briefly is waited for.
 */
export async function openServerDatabase(
  config: Config,
  out: Out,
  wait: WaitOptions = {},
): Promise<DatabaseHandle> {
  if (config.databaseUrl) return openDatabase({ databaseUrl: config.databaseUrl });
  const deadline = Date.now() + (wait.waitMs ?? WAIT_FOR_DATA_DIR_MS);
  let told = false;
  for (;;) {
    try {
      return await openDatabase({
        dataDir: config.dataDir,
        lockAs: { role: 'server', what: 'cidadela serve' },
      });
    } catch (error) {
      if (!(error instanceof DataDirBusyError)) throw error;
      const { holder } = error;
      if (holder.role === 'server') {
        throw new DataDirBusyError(
          error.file,
          holder,
          `a Cidadela server (pid ${holder.pid}, since ${holder.since}) already runs on the embedded database in ${config.dataDir}; stop it first, or use PostgreSQL (DATABASE_URL) to run several copies`,
        );
      }
      if (Date.now() > deadline)
        throw new DataDirBusyError(error.file, holder, busyMessage(config, holder).replace(/^error: /, ''));
      if (!told) {
        told = true;
        out.error(
          `waiting for ${holder.what} (pid ${holder.pid}), which holds the embedded database in ${config.dataDir}…`,
        );
      }
      await sleep(wait.pollMs ?? POLL_MS);
    }
  }
}
