import pino from 'pino';

/**
 * JSON logs. Paths that can hold a CPF, e-mail, phone, code, token or password are redacted; URLs
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

export function createLogger(level: string, destination?: pino.DestinationStream) {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'cidadela' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export function pathOnly(url: string): string {
  const i = url.indexOf('?');
  return i === -1 ? url : url.slice(0, i);
}
