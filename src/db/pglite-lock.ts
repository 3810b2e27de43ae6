import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One process at a time on an embedded database: PGlite has no server to arbitrate, and two
 * processes writing the same files lose each other's writes (or corrupt them). The holder writes
 * its pid to `DATA_DIR/pglite.lock`; a lock whose process is gone is stale and taken over.
 */

export const LOCK_FILE = 'pglite.lock';

export type LockRole = 'server' | 'command';

export type LockHolder = {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (start time since boot) where there is a /proc: tells a reused pid apart. */
  started: string | null;
  role: LockRole;
  /** For the operator: what holds it ("cidadela serve", "cidadela service add"). */
  what: string;
  since: string;
  nonce: string;
};

export class DataDirBusyError extends Error {
  readonly file: string;
  readonly holder: LockHolder;
  constructor(file: string, holder: LockHolder, message?: string) {
    super(
      message ??
        `${file} is held by ${holder.what} (pid ${holder.pid}, since ${holder.since}): the embedded database takes one process at a time`,
    );
    this.name = 'DataDirBusyError';
    this.file = file;
    this.holder = holder;
  }
}

export type DataDirLock = { file: string; release(): void };

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(holder.pid) && holder.pid > 0 ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `holder` still runs (a pid reused by another process does not count). */
export function holderAlive(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it runs, under another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // After a container restart the new server often gets the old one's pid (even our own).
  const started = processStart(holder.pid);
  return !(holder.started && started && holder.started !== started);
}

/**
 * Takes `DATA_DIR/pglite.lock` or throws DataDirBusyError naming its live holder. The lock file is
 * written whole under another name and hard-linked into place, so a reader never sees it half
 * written and two takers cannot both win.
 */
export function lockDataDir(dataDir: string, role: LockRole, what: string): DataDirLock {
  const file = join(dataDir, LOCK_FILE);
  const mine: LockHolder = {
    pid: process.pid,
    started: processStart(process.pid),
    role,
    what,
    since: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
  };
  const tmp = `${file}.${process.pid}.${mine.nonce}`;
  writeFileSync(tmp, `${JSON.stringify(mine)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        place(tmp, file);
        return held(file, mine);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readHolder(file);
      if (holder && holderAlive(holder)) throw new DataDirBusyError(file, holder);
      // Stale (or unreadable). Move it aside atomically, then make sure what we moved is what we
      // judged stale: another taker may have replaced it in between.
      const aside = `${file}.stale.${randomBytes(4).toString('hex')}`;
      try {
        renameSync(file, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const moved = readHolder(aside);
      if (moved && holderAlive(moved)) {
        try {
          place(aside, file);
        } catch {
          // A third taker got in: its lock stands, and this attempt loops to find it.
        }
      }
      unlinkSync(aside);
    }
    throw new Error(`could not take ${file}: it keeps changing hands`);
  } finally {
    unlinkSync(tmp);
  }
}

/** Puts a copy of `from` at `to` unless `to` exists (EEXIST): a hard link, or an exclusive create where links are not offered. */
function place(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || !['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(code ?? ''))
      throw error;
    // Not atomic with the content, but still exclusive; a reader seeing it half written judges it stale only if unreadable.
    writeFileSync(to, readFileSync(from), { flag: 'wx', mode: 0o600 });
  }
}

function held(file: string, mine: LockHolder): DataDirLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    // Only our own lock: after a takeover (we were judged stale) the file is someone else's.
    if (readHolder(file)?.nonce === mine.nonce) {
      try {
        unlinkSync(file);
      } catch {
        // Already gone.
      }
    }
  };
  // A process that ends without closing its database (an uncaught error, process.exit) leaves no lock.
  process.on('exit', release);
  return { file, release };
}
