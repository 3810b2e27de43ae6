import { Writable } from 'node:stream';

/**
 * Log lines for a person at a terminal: the JSON lines pino writes (already redacted), turned into
 * one short line each — time, level, message, then the request's method, path, status and time, or
 * the other fields as key=value. Only for a terminal: files and collectors get the JSON itself.
 */

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};
const QUIET = new Set([
  'level',
  'time',
  'msg',
  'service',
  'pid',
  'hostname',
  'reqId',
  'method',
  'path',
  'status',
  'ms',
]);

function paint(code: string, text: string, colour: boolean): string {
  return colour ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** One JSON log line as one readable line (the line itself when it is not JSON). */
export function prettyLine(line: string, colour = true): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (!entry || typeof entry !== 'object') return line;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
  const [label, code] = LEVELS[Number(entry.level)] ?? ['LOG  ', '0'];
  const parts = [paint('2', time, colour), paint(code, label, colour)];
  if (entry.msg === 'request' && typeof entry.path === 'string') {
    const status = Number(entry.status);
    const statusCode = status >= 500 ? '31' : status >= 400 ? '33' : '32';
    parts.push(
      `${String(entry.method ?? '').padEnd(6)} ${entry.path} ${paint(statusCode, String(entry.status), colour)} ${paint('2', `${entry.ms} ms`, colour)}`,
    );
  } else {
    parts.push(String(entry.msg ?? ''));
  }
  for (const [key, value] of Object.entries(entry)) {
    if (QUIET.has(key)) continue;
    if (key === 'err' && value && typeof value === 'object' && 'stack' in value) {
      parts.push(`\n${paint('31', String((value as { stack: unknown }).stack), colour)}`);
      continue;
    }
    parts.push(paint('2', `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`, colour));
  }
  return parts.join(' ');
}

/** A pino destination that writes pretty lines to `out` (a terminal). */
export function prettyDestination(out: NodeJS.WritableStream, colour = true): Writable {
  let pending = '';
  return new Writable({
    write(chunk, _enc, done) {
      pending += String(chunk);
      let i = pending.indexOf('\n');
      while (i !== -1) {
        out.write(`${prettyLine(pending.slice(0, i), colour)}\n`);
        pending = pending.slice(i + 1);
        i = pending.indexOf('\n');
      }
      done();
    },
  });
}
