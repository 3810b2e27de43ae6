import { chmodSync, readFileSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Db } from '../db/database.ts';
import { type Out, runCommand } from './commands.ts';
import { FILE_OPTIONS } from './service-command.ts';

/**
 * The local door of a server that holds the embedded database (decision 0016). PGlite takes one
 * process, so `cidadela service add …` typed beside `npm start` is run by the server, with the
 * server's database, and its output is sent back. Only the owner of DATA_DIR may connect: the socket
 * file is 0600, and the kernel checks it on connect.
 *
 * Protocol: newline-delimited JSON. The client sends one line, `{"argv":[…],"files":{path:{"text"}|{"error"}}}`;
 * the server answers `{"started":true}` once it has taken the command, `{"out":line}` and `{"err":line}`
 * as the command prints, then `{"exit":code}`.
 */

export const SOCKET_FILE = 'cidadela.sock';
/** Terms, JWKS and field contracts are small; this bounds what a client can make the server hold. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
// sun_path is 108 bytes on Linux (104 on macOS), the terminating zero included.
const MAX_SOCKET_PATH = 103;

export function commandSocketPath(dataDir: string): string {
  return join(resolve(dataDir), SOCKET_FILE);
}

/** A long DATA_DIR does not fit in a socket address; the same file reached relatively from the cwd often does. */
function addressOf(path: string): string {
  if (path.length <= MAX_SOCKET_PATH) return path;
  const near = relative(process.cwd(), path);
  return near.length < path.length && !isAbsolute(near) ? near : path;
}

type Request = { argv: string[]; files: Record<string, { text: string } | { error: string }> };

export type CommandSocket = { path: string; listen(): Promise<void>; close(): Promise<void> };

/**
 * The server side: runs each request through `runCommand` with the server's database and config.
 * `listen()` takes the socket over (the caller holds DATA_DIR's lock, so a socket file left there
 * is a dead server's); `close()` stops taking commands and waits for those running.
 */
export function createCommandSocket(deps: {
  dataDir: string;
  db: Db;
  config: Config;
  logger: Logger;
}): CommandSocket {
  const path = commandSocketPath(deps.dataDir);
  const running = new Set<Promise<void>>();
  let ready = false;

  const server = createServer((socket) => {
    // Until the mode is 0600 anyone the umask let in could have connected: nobody is served before.
    if (!ready) return socket.destroy();
    const task = serve(socket).finally(() => running.delete(task));
    running.add(task);
  });

  async function serve(socket: Socket): Promise<void> {
    const request = await readRequest(socket).catch((error: Error) => {
      socket.end(`${JSON.stringify({ err: `error: ${error.message}` })}\n${JSON.stringify({ exit: 2 })}\n`);
      return undefined;
    });
    if (!request) return;
    const send = (message: object) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
    };
    send({ started: true });
    const out: Out = { log: (line) => send({ out: line }), error: (line) => send({ err: line }) };
    let code: number;
    try {
      code = await runCommand(request.argv, {
        out,
        readFile(file) {
          const sent = request.files[file];
          if (!sent) throw new Error(`ENOENT: no such file or directory, open '${file}'`);
          if ('error' in sent) throw new Error(sent.error);
          return sent.text;
        },
        withDatabase: (fn) => fn(deps.db, deps.config),
      });
    } catch (error) {
      // The command's own failures are exit codes; this is the unexpected kind: logged here, named there.
      deps.logger.error(
        {
          err: { message: (error as Error).message, stack: (error as Error).stack },
          command: request.argv[0],
        },
        'command failed',
      );
      out.error(`error: ${(error as Error).message}`);
      code = 1;
    }
    deps.logger.info(
      { command: request.argv.slice(0, 2).join(' '), exit: code },
      'command run for the cidadela CLI',
    );
    socket.end(`${JSON.stringify({ exit: code })}\n`);
  }

  return {
    path,
    async listen() {
      try {
        unlinkSync(path);
      } catch {
        // No socket left behind.
      }
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(addressOf(path), () => {
          server.off('error', fail);
          done();
        });
      });
      chmodSync(path, 0o600);
      ready = true;
    },
    async close() {
      ready = false;
      if (server.listening) await new Promise<void>((done) => server.close(() => done()));
      await Promise.allSettled([...running]);
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    },
  };
}

function readRequest(socket: Socket): Promise<Request> {
  return new Promise((done, fail) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (buffer.length > MAX_REQUEST_BYTES) return finish(new Error('request too large'));
      const end = buffer.indexOf('\n');
      if (end === -1) return;
      try {
        const request = JSON.parse(buffer.slice(0, end)) as Request;
        if (!Array.isArray(request.argv) || !request.argv.every((a) => typeof a === 'string'))
          throw new Error('bad request');
        finish(undefined, { argv: request.argv, files: request.files ?? {} });
      } catch (error) {
        finish(error as Error);
      }
    };
    const onEnd = () => finish(new Error('no request'));
    const finish = (error?: Error, request?: Request) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      if (error) fail(error);
      else done(request!);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', () => finish(new Error('connection lost')));
  });
}

/** The files the operator named with --terms-file and the like, read here (relative to this cwd). */
function filesNamed(argv: string[]): Request['files'] {
  const files: Request['files'] = {};
  const names = new Set<string>(FILE_OPTIONS);
  argv.forEach((arg, i) => {
    const [option = '', inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg];
    if (!names.has(option)) return;
    const file = inline ?? argv[i + 1];
    if (file === undefined || file in files) return;
    try {
      files[file] = { text: readFileSync(file, 'utf8') };
    } catch (error) {
      files[file] = { error: (error as Error).message };
    }
  });
  return files;
}

/**
 * The `cidadela` side: sends the command to the server on `path` and prints what it prints.
 * Resolves with the exit code, or undefined when no server listens there (no socket, or a dead
 * server's), so the caller opens the database itself.
 */
export function sendCommand(path: string, argv: string[], out: Out): Promise<number | undefined> {
  return new Promise((done) => {
    const socket = connect(addressOf(path));
    let connected = false;
    let started = false;
    let exit: number | undefined;
    let buffer = '';
    socket.on('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify({ argv, files: filesNamed(argv) } satisfies Request)}\n`);
    });
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let end = buffer.indexOf('\n');
      while (end !== -1) {
        let message: { started?: boolean; out?: string; err?: string; exit?: number };
        try {
          message = JSON.parse(buffer.slice(0, end));
        } catch {
          message = { err: `error: unreadable answer from the server on ${path}` };
        }
        buffer = buffer.slice(end + 1);
        if (message.started) started = true;
        if (message.out !== undefined) out.log(message.out);
        if (message.err !== undefined) out.error(message.err);
        if (message.exit !== undefined) exit = message.exit;
        end = buffer.indexOf('\n');
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected) {
        socket.destroy();
        // ENOENT: no server; ECONNREFUSED: a dead one's socket. Anything else (EACCES: another
        // user's DATA_DIR) is said as it is.
        if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') return done(undefined);
        out.error(`cannot reach the server on ${path}: ${error.message}`);
        return done(1);
      }
    });
    socket.on('close', () => {
      if (!connected) return;
      // Turned away before taking the command (starting, or stopping): as if no server, the caller retries.
      if (!started) return done(undefined);
      if (exit === undefined) {
        // The server stopped mid-command: it may or may not have been applied.
        out.error(
          'error: the server closed the connection before the command finished; check the result before repeating it',
        );
        return done(1);
      }
      done(exit);
    });
  });
}
