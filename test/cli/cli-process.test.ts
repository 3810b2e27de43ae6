import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as client from 'openid-client';
import { runCommandProcess } from '../../src/cli/cli-process.ts';
import { SOCKET_FILE } from '../../src/cli/command-socket.ts';
import type { Out } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config/config.ts';
import { LOCK_FILE, lockDataDir } from '../../src/db/pglite-lock.ts';
import {
  childEnv,
  createSharedDatabase,
  killChildren,
  runCli,
  type ServerProcess,
  type SharedDatabase,
  spawnTracked,
  startServerProcess,
} from '../helpers/processes.ts';
import { TEST_SECRET } from '../helpers/test-app.ts';

/*
 * What only a process shows: `cidadela …` typed beside a running server (issue 9, item 0), the
 * embedded database's lock, and signals through the installed launcher (bin/cidadela.js, item 3).
 * The commands themselves are tested in-process, both ways, in the other files of test/cli.
 */

const pidOf = (line: string) => Number(JSON.parse(line).pid);
const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
};

/** How the token endpoint treats a client: authenticated (the bogus grant is then refused) or not. */
async function tokenEndpointSays(url: string, clientId: string, secret: string): Promise<string> {
  const config = await client.discovery(new URL(url), clientId, secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  try {
    await client.refreshTokenGrant(config, 'not-a-refresh-token');
    return 'accepted';
  } catch (error) {
    return String((error as { error?: string }).error ?? (error as Error).message);
  }
}

describe('cidadela beside a running server, started and stopped through bin/cidadela.js', () => {
  let shared: SharedDatabase;
  let server: ServerProcess;
  let serverPid: number;
  let env: Record<string, string>;
  const files = mkdtempSync(join(tmpdir(), 'cidadela-cli-files-'));
  const embedded = () => shared.kind === 'pglite';
  let added: { id: string; secret: string };

  before(async () => {
    shared = await createSharedDatabase();
    env = childEnv({ ...shared.env, DEMO: 'off', LOG_LEVEL: 'info' });
    server = await startServerProcess(env, undefined, { bin: true });
    serverPid = pidOf(await server.waitForOutput(/"msg":"cidadela is listening"/));
  });

  after(async () => {
    await killChildren();
    // A launcher that failed to pass the signal on leaves the real server running, holding our pipes.
    if (serverPid && !gone(serverPid)) process.kill(serverPid, 'SIGKILL');
    await shared?.drop();
    rmSync(files, { recursive: true, force: true });
  });

  test('a service added while the server runs works there at once and is kept (embedded: through the server)', async () => {
    assert.notEqual(serverPid, server.child.pid, 'the launcher runs the server as its child');
    if (embedded()) {
      const dataDir = shared.env.DATA_DIR!;
      assert.equal(
        JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')).pid,
        serverPid,
        'the server holds the lock',
      );
      assert.equal(
        statSync(join(dataDir, SOCKET_FILE)).mode & 0o777,
        0o600,
        'only the owner of DATA_DIR may connect',
      );
    }
    // Typed in another directory: the terms file is read there, not by the server.
    writeFileSync(join(files, 'termos.md'), '# Termos do agendamento\n');
    const result = await runCli(
      [
        'service',
        'add',
        '--name',
        'Agendamento',
        '--redirect-uri',
        'https://agenda.example/cb',
        '--terms-file',
        'termos.md',
      ],
      env,
      undefined,
      { bin: true, cwd: files },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    added = {
      id: result.stdout.match(/client_id:\s+(\S+)/)?.[1] ?? '',
      secret: result.stdout.match(/client_secret:\s+(\S+)/)?.[1] ?? '',
    };
    assert.equal(
      await tokenEndpointSays(server.url, added.id, added.secret),
      'invalid_grant',
      'the running server knows the client',
    );
    if (embedded())
      assert.match(
        server.output(),
        /"command":"service add","exit":0,"msg":"command run for the cidadela CLI"/,
      );

    const missing = await runCli(['service', 'show', 'no-such-service'], env, undefined, { bin: true });
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /Service not found/);
  });

  test('a second server on the same embedded database refuses to start and says why', async (t) => {
    if (!embedded()) return t.skip('PostgreSQL takes any number of servers (test/cluster)');
    const second = await runCli(['serve'], { ...env, PORT: '0' });
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(`a Cidadela server \\(pid ${serverPid}, since .*\\) already runs on the embedded database`),
    );
    assert.match(second.stderr, /DATABASE_URL/);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the first one goes on');
  });

  test('SIGTERM to the launcher stops the real server (exit 0, nothing left running); the CLI then opens the database itself', async () => {
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
    assert.ok(gone(serverPid), `the server process ${serverPid} has ended with its launcher`);
    if (embedded()) {
      assert.ok(!existsSync(join(shared.env.DATA_DIR!, LOCK_FILE)), 'the lock is released');
      assert.ok(!existsSync(join(shared.env.DATA_DIR!, SOCKET_FILE)), 'the socket is removed');
    }
    const shown = await runCli(['service', 'show', added.id, '--json'], env, undefined, { bin: true });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      JSON.parse(shown.stdout).service.termsMarkdown,
      /Termos do agendamento/,
      'kept, with the terms read where the command was typed',
    );
  });

  test('cidadela relay through the launcher: SIGTERM stops the real relay too', async (t) => {
    if (embedded()) return t.skip('the relay runs on its own only with PostgreSQL');
    const relay = spawnTracked(['relay'], env, { bin: true });
    const relayPid = pidOf(await relay.waitForOutput(/"msg":"relay running"/));
    assert.notEqual(relayPid, relay.child.pid);
    relay.child.kill('SIGTERM');
    assert.equal(await relay.exited, 0);
    assert.ok(gone(relayPid), `the relay process ${relayPid} has ended with its launcher`);
  });
});

describe('a command and the embedded database lock', {
  skip: Boolean(process.env.DATABASE_URL) && 'the lock is for the embedded database',
}, () => {
  let shared: SharedDatabase;
  let dataDir: string;
  const config = () =>
    loadConfig({ NODE_ENV: 'test', SECRET_KEY: TEST_SECRET, DATA_DIR: dataDir, LOG_LEVEL: 'silent' });

  before(async () => {
    shared = await createSharedDatabase();
    dataDir = shared.env.DATA_DIR!;
  });
  after(() => shared?.drop());

  function capture(onError?: (line: string) => void) {
    const lines = { out: '', err: '' };
    const out: Out = {
      log: (l) => (lines.out += `${l}\n`),
      error: (l) => {
        lines.err += `${l}\n`;
        onError?.(l);
      },
    };
    return { out, lines };
  }

  test('a lock and a socket left by a process that died are taken over', async () => {
    // Above Linux's largest pid (2^22): no such process.
    writeFileSync(
      join(dataDir, LOCK_FILE),
      JSON.stringify({
        pid: 2 ** 22 + 1,
        started: null,
        role: 'server',
        what: 'cidadela serve',
        since: '2026-01-01T00:00:00.000Z',
        nonce: 'old',
      }),
    );
    writeFileSync(join(dataDir, SOCKET_FILE), '');
    const { out, lines } = capture();
    assert.equal(await runCommandProcess(['service', 'list'], config, out), 0, lines.err);
    assert.equal(lines.err, '');
    assert.ok(!existsSync(join(dataDir, LOCK_FILE)), 'released after the command');
  });

  test('a command waits while another command holds the database, says so, and goes on once it is free', async () => {
    const other = lockDataDir(dataDir, 'command', 'cidadela citizen delete');
    let told!: () => void;
    const waiting = new Promise<void>((resolve) => (told = resolve));
    const { out, lines } = capture((line) => /^waiting for cidadela citizen delete/.test(line) && told());
    const run = runCommandProcess(['service', 'list'], config, out);
    await waiting;
    other.release();
    assert.equal(await run, 0, lines.err);
    assert.match(lines.out, /no services|\t/);
  });

  test('and gives up with what to do when it stays held', async () => {
    const other = lockDataDir(dataDir, 'command', 'cidadela service replay');
    try {
      const { out, lines } = capture();
      assert.equal(await runCommandProcess(['service', 'list'], config, out, { waitMs: 0 }), 1);
      assert.match(lines.err, new RegExp(`held by cidadela service replay \\(pid ${process.pid}\\)`));
      assert.match(lines.err, /delete .*pglite\.lock/);
    } finally {
      other.release();
    }
  });
});
