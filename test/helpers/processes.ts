import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/database.ts';
import { freePort, TEST_SECRET } from './test-app.ts';
import { copyOfTemplate, createTestDatabase, type TestDatabase } from './test-database.ts';

/**
 * The real `cidadela` entry point run as a child process, the way operators and process managers
 * run it. Every child is remembered so `killChildren()` in an after() hook leaves none behind.
 */

const ROOT = new URL('../../', import.meta.url).pathname;
export const NODE = join(ROOT, 'node_modules/.bin/node');
const MAIN = join(ROOT, 'src/main.ts');
/** The installed command (`npx cidadela`): a launcher that runs MAIN as its child. */
export const BIN = join(ROOT, 'bin/cidadela.js');

export type ProcessOptions = {
  /** Run through bin/cidadela.js instead of node src/main.ts. */
  bin?: boolean;
  cwd?: string;
};

const argvOf = (args: string[], options: ProcessOptions) => (options.bin ? [BIN, ...args] : [MAIN, ...args]);

const children = new Set<ChildProcess>();

/** A deliberate environment: nothing from the developer's shell leaks in but PATH and HOME. */
export function childEnv(extra: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME ?? tmpdir(),
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    SECRET_KEY: TEST_SECRET,
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

export type CliResult = { code: number | null; signal: string | null; stdout: string; stderr: string };

/** Runs `node src/main.ts ...args` to completion (killed after `timeoutMs`). */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 120_000, options: ProcessOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, argvOf(args, options), { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: Boolean(options.bin) });
    if (options.bin) grouped.add(child);
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      kill(child, 'SIGKILL');
      reject(new Error(`cidadela ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export type ServerProcess = {
  child: ChildProcess;
  port: number;
  /** http://127.0.0.1:port, where this process listens (not necessarily its PUBLIC_URL). */
  url: string;
  output(): string;
  /** Waits (bounded) until a line of stdout or stderr matches. */
  waitForOutput(pattern: RegExp, ms?: number): Promise<string>;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL if it has not ended after `ms`. Returns how it ended. */
  stop(ms?: number): Promise<number | string>;
};

/**
 * Starts `node src/main.ts serve` and waits until it logs that it listens. `PORT` is chosen here
 * unless given; `PUBLIC_URL` defaults to the listening address.
 */
export async function startServerProcess(env: Record<string, string>, ms = 120_000, options: ProcessOptions = {}): Promise<ServerProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = spawnTracked(['serve'], { HOST: '127.0.0.1', PUBLIC_URL: url, ...env, PORT: String(port) }, options, port);
  try {
    await server.waitForOutput(/"msg":"cidadela is listening"/, ms);
  } catch (error) {
    kill(server.child, 'SIGKILL');
    throw error;
  }
  return server;
}

// Through the launcher the real process is a grandchild, which a SIGKILL to the launcher would
// orphan: such children get a process group of their own, and a kill reaches the whole group.
const grouped = new WeakSet<ChildProcess>();
function kill(child: ChildProcess, signal: NodeJS.Signals) {
  if (grouped.has(child) && child.pid) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group has already ended.
    }
  } else child.kill(signal);
}

/** Starts `cidadela <args>` (a long-running one: serve, relay) and records its output; returns at once. */
export function spawnTracked(args: string[], env: Record<string, string>, options: ProcessOptions = {}, port = 0): ServerProcess {
  const child = spawn(NODE, argvOf(args, options), {
    cwd: options.cwd ?? ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: Boolean(options.bin),
  });
  if (options.bin) grouped.add(child);
  children.add(child);
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (c: Buffer) => {
    out += c;
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let ended = false;
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      ended = true;
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
      for (const l of listeners) l();
    });
  });

  function waitForOutput(pattern: RegExp, wait = 120_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = out.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return done(() => resolve(line));
        if (ended) return done(() => reject(new Error(`process ended before printing ${pattern}:\n${out.slice(-4000)}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${pattern} within ${wait} ms:\n${out.slice(-4000)}`))), wait);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        fn();
      };
      listeners.add(check);
      check();
    });
  }

  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    waitForOutput,
    exited,
    async stop(wait = 20_000) {
      if (!ended) child.kill('SIGTERM');
      const timer = setTimeout(() => kill(child, 'SIGKILL'), wait);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
  };
}

/** For after() hooks: ends every child still running (SIGKILL) and waits for them. */
export async function killChildren(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          kill(child, 'SIGKILL');
        }),
    ),
  );
  children.clear();
}

/**
 * A database that child processes can open: a PostgreSQL database of its own when DATABASE_URL is
 * set, otherwise a PGlite directory started from the migrated template. PGlite allows one process
 * at a time: close what `open()` returned before starting a child on the same directory.
 */
export type SharedDatabase = {
  kind: 'postgres' | 'pglite';
  /** DATABASE_URL or DATA_DIR, for a child's environment. */
  env: Record<string, string>;
  /** An in-process handle (PostgreSQL: always the same one; PGlite: close it before children run). */
  open(): Promise<TestDatabase>;
  drop(): Promise<void>;
};

export async function createSharedDatabase(): Promise<SharedDatabase> {
  if (process.env.DATABASE_URL) {
    const db = await createTestDatabase();
    // Closing it is for PGlite's sake; here the one pool stays open until drop().
    const handle: TestDatabase = { ...db, close: async () => {}, drop: async () => {} };
    return { kind: 'postgres', env: { DATABASE_URL: db.url! }, open: async () => handle, drop: () => db.drop() };
  }
  const dir = await copyOfTemplate();
  // A marker so a reader knows what the directory is if a crash leaves it behind.
  writeFileSync(join(dir, 'README'), 'temporary Cidadela test data; safe to delete\n');
  return {
    kind: 'pglite',
    env: { DATA_DIR: dir },
    open: async () => {
      const handle = await openDatabase({ dataDir: dir });
      return { ...handle, url: undefined, drop: () => handle.close() };
    },
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}
