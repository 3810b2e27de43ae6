import pino from 'pino';
import { prettyDestination } from './log-pretty.ts';

/**
 * JSON logs (pretty, one readable line each, when written to a terminal: log-pretty.ts). Paths that can hold a CPF, e-mail, phone, code, token or password are redacted; URLs
 * are logged without their query string (authorization requests carry codes and states there).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.cpf',
  '*.email',
  '*.phone_number',
  '*.code',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.client_secret',
  '*.identifier',
];

export type LogFormat = 'auto' | 'json' | 'pretty';

/** Where the logs go when no destination is given: stdout, pretty if it is a terminal (`auto`). */
export function stdoutDestination(
  format: LogFormat,
  stdout: NodeJS.WriteStream = process.stdout,
): pino.DestinationStream | undefined {
  const pretty = format === 'pretty' || (format === 'auto' && stdout.isTTY === true);
  return pretty ? prettyDestination(stdout, stdout.isTTY === true) : undefined;
}

export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  format: LogFormat = 'json',
) {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'cidadela' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? stdoutDestination(format),
  );
}

export function pathOnly(url: string): string {
  const i = url.indexOf('?');
  return i === -1 ? url : url.slice(0, i);
}
