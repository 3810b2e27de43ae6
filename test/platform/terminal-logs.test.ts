import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { prettyLine } from '../../src/platform/log-pretty.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { childEnv, createSharedDatabase, NODE, type SharedDatabase } from '../helpers/processes.ts';
import { freePort } from '../helpers/test-app.ts';

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const plain = (s: string) => s.replace(ANSI, '').replace(/\r/g, '');
const SCRIPT = '/usr/bin/script';

describe('logs a person reads at a terminal', () => {
  test('a request line reads as method, path, status and time; redaction survives', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _e, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('info', sink);
    log.info({ reqId: 'r1', method: 'GET', path: '/conta', status: 200, ms: 12 }, 'request');
    log.warn({ citizen: { cpf: '52998224725', email: 'a@b.c' } }, 'something odd');
    const [request, odd] = lines.map((l) => prettyLine(l.trim(), false));
    assert.match(request!, /^\d\d:\d\d:\d\d INFO +GET +\/conta 200 12 ms$/);
    assert.match(odd!, /WARN +something odd citizen=\{"cpf":"\[redacted\]","email":"\[redacted\]"\}/);
    assert.doesNotMatch(odd!, /52998224725|a@b\.c/);
    assert.equal(prettyLine('not json', false), 'not json');
  });

  describe('the server under a terminal and under a pipe', {
    skip: existsSync(SCRIPT) ? false : `${SCRIPT} (util-linux) is not installed`,
  }, () => {
    let shared: SharedDatabase;
    let child: ChildProcess | undefined;
    before(async () => {
      shared = await createSharedDatabase();
    });
    after(async () => {
      if (child?.pid && child.exitCode === null) {
        const gone = new Promise((r) => child!.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await gone;
      }
      await shared?.drop();
    });

    test('npm start in a terminal prints readable lines, not JSON', async () => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      // `script` gives the server a pseudo-terminal as its standard output, as a developer's shell does.
      child = spawn(SCRIPT, ['-qfec', `${NODE} src/main.ts serve`, '/dev/null'], {
        env: childEnv({
          ...shared.env,
          HOST: '127.0.0.1',
          PORT: String(port),
          PUBLIC_URL: url,
          DEMO: 'off',
          TERM: 'xterm',
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let out = '';
      const seen = (pattern: RegExp) =>
        new Promise<void>((resolve, reject) => {
          const check = () => (pattern.test(plain(out)) ? resolve() : undefined);
          child!.stdout!.on('data', (c) => {
            out += c;
            check();
          });
          child!.once('exit', () => reject(new Error(`the server ended:\n${plain(out)}`)));
          check();
        });
      await seen(/INFO +cidadela is listening/);
      await fetch(`${url}/healthz`);
      await seen(/INFO +GET +\/healthz 200 \d+ ms/);
      assert.doesNotMatch(plain(out), /\{"level":/, 'no JSON line');
      assert.match(out, ANSI, 'in colour');
    });
  });
});
