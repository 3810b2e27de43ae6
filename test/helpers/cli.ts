import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CommandSocket, createCommandSocket, sendCommand } from '../../src/cli/command-socket.ts';
import { type Out, runCommand } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Db } from '../../src/db/database.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { TEST_SECRET } from './test-app.ts';

/**
 * `cidadela …` commands run in the test's process, the two ways they run for an operator:
 * - 'alone': no server runs, the command has the database to itself (`runCommand` with it);
 * - 'through a server': a server holds the (embedded) database and the command goes over its
 *   unix socket: the real client (`sendCommand`, which reads --terms-file and the like where it is
 *   typed) and the real server side (`createCommandSocket`) with this database.
 * Starting a process per command costs seconds (Node, then PGlite); what a process adds (opening,
 * locking, exit codes) is tested once, in test/cli/cli-process.test.ts.
 */

export type CliResult = { code: number; stdout: string; stderr: string };
export type Cli = (...argv: string[]) => Promise<CliResult>;

export const CLI_MODES = [
  { mode: 'alone', title: 'no server running' },
  { mode: 'server', title: 'through a running server' },
] as const;
export type CliMode = (typeof CLI_MODES)[number]['mode'];

function capture(): { out: Out; result(code: number): CliResult } {
  let stdout = '';
  let stderr = '';
  return {
    out: { log: (line) => (stdout += `${line}\n`), error: (line) => (stderr += `${line}\n`) },
    result: (code) => ({ code, stdout, stderr }),
  };
}

export async function startCli(
  mode: CliMode,
  db: Db,
  env: Record<string, string> = {},
): Promise<{ cli: Cli; close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cidadela-cli-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    SECRET_KEY: TEST_SECRET,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ...env,
  });
  if (mode === 'alone') {
    return {
      async cli(...argv) {
        const c = capture();
        try {
          return c.result(
            await runCommand(argv, {
              out: c.out,
              readFile: (path) => readFileSync(path, 'utf8'),
              withDatabase: (fn) => fn(db, config),
            }),
          );
        } catch (error) {
          // As src/main.ts ends a command that threw.
          c.out.error(String(error));
          return c.result(1);
        }
      },
      close: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const socket: CommandSocket = createCommandSocket({ dataDir, db, config, logger: createLogger('silent') });
  await socket.listen();
  return {
    async cli(...argv) {
      const c = capture();
      const code = await sendCommand(socket.path, argv, c.out);
      if (code === undefined) throw new Error(`no server answered on ${socket.path}`);
      return c.result(code);
    },
    async close() {
      await socket.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
