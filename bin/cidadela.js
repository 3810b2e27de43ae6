#!/usr/bin/env node
// Runs the TypeScript entry point with the Node.js that npm pinned (node_modules/.bin/node).
// The real process is a child: signals sent to this one (a supervisor's SIGTERM, Ctrl-C) are passed
// on, and this one ends as the child ended, so `npx cidadela relay` stops like the relay itself.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pinned = `${root}node_modules/.bin/node`;
const node = existsSync(pinned) ? pinned : process.execPath;
const child = spawn(node, [`${root}src/main.ts`, ...process.argv.slice(2)], { stdio: 'inherit' });

// SIGUSR1 is Node's debugger signal: not taken over.
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR2'];
const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of FORWARDED) process.on(signal, forward);

child.on('error', (error) => {
  console.error(`cannot start ${node}: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    // Die of the same signal, so whoever waits on us sees what the child did.
    for (const s of FORWARDED) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    // A signal this platform does not deliver to us: the shell's convention.
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 1000);
    return;
  }
  process.exit(code ?? 1);
});
