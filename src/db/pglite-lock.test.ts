import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { DataDirBusyError, LOCK_FILE, type LockHolder, lockDataDir } from './pglite-lock.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cidadela-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const holderIn = (d: string) => JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8')) as LockHolder;
const writeHolder = (d: string, holder: Partial<LockHolder>) =>
  writeFileSync(
    join(d, LOCK_FILE),
    JSON.stringify({
      started: null,
      role: 'server',
      what: 'cidadela serve',
      since: '2026-01-01T00:00:00.000Z',
      nonce: 'x',
      ...holder,
    }),
  );

/** A pid that just ended. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '0']).pid;
  assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  return pid;
}

test('one holder at a time: the second is told who holds it; after release it is free', () => {
  const lock = lockDataDir(dir, 'server', 'cidadela serve');
  assert.equal(holderIn(dir).pid, process.pid);
  assert.throws(
    () => lockDataDir(dir, 'command', 'cidadela service add'),
    (e: unknown) =>
      e instanceof DataDirBusyError &&
      e.holder.pid === process.pid &&
      e.holder.role === 'server' &&
      /cidadela serve/.test(e.message),
  );
  lock.release();
  assert.ok(!existsSync(join(dir, LOCK_FILE)), 'released: the file is gone');
  lockDataDir(dir, 'command', 'cidadela service add').release();
  assert.deepEqual(readdirSync(dir), [], 'nothing left behind');
});

test('a lock whose process is gone is stale and taken over', () => {
  writeHolder(dir, { pid: deadPid() });
  const lock = lockDataDir(dir, 'command', 'cidadela service list');
  assert.equal(holderIn(dir).pid, process.pid);
  lock.release();
  assert.deepEqual(readdirSync(dir), []);
});

test('a live pid that is another process than the one that locked (a reused pid) is stale too', {
  skip: !existsSync('/proc/self/stat') && 'needs /proc',
}, () => {
  // After a container restart the new server can have the very pid the old one wrote.
  writeHolder(dir, { pid: process.pid, started: '1' });
  const lock = lockDataDir(dir, 'server', 'cidadela serve');
  assert.notEqual(holderIn(dir).started, '1');
  lock.release();
});

test('a live holder stays: a process of ours, started when the lock says', () => {
  // This process is alive and its start time is what /proc says (or unknown without /proc).
  const started = existsSync('/proc/self/stat')
    ? readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[19]!
    : null;
  writeHolder(dir, { pid: process.pid, started });
  assert.throws(() => lockDataDir(dir, 'server', 'cidadela serve'), DataDirBusyError);
});

test('an unreadable lock file is treated as stale', () => {
  writeFileSync(join(dir, LOCK_FILE), 'not json');
  lockDataDir(dir, 'command', 'cidadela migrate').release();
  assert.deepEqual(readdirSync(dir), []);
});

test('releasing a lock that was taken over leaves the new holder alone', () => {
  const mine = lockDataDir(dir, 'command', 'cidadela service add');
  // Judged stale by someone (it cannot be, but the file says otherwise now): theirs is kept.
  writeHolder(dir, { pid: deadPid(), nonce: 'theirs' });
  mine.release();
  assert.equal(holderIn(dir).nonce, 'theirs');
});
