#!/usr/bin/env node
// Runs the TypeScript entry point with the Node.js that npm pinned (node_modules/.bin/node).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pinned = `${root}node_modules/.bin/node`;
const node = existsSync(pinned) ? pinned : process.execPath;
const result = spawnSync(node, [`${root}src/main.ts`, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(result.status ?? 1);
