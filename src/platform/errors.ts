/**
 * The one error type flows and stores throw. `code` is stable and is also the i18n key of the
 * message shown to a person; `expose` says whether the message may be shown as is.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, status = 400, details?: Record<string, unknown>) {
    super(code);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.expose = status < 500;
    this.details = details;
  }
}

/** A dependency failed (database, mail, broker): the caller should retry later. */
export class UnavailableError extends AppError {
  constructor(code = 'error.unavailable') {
    super(code, 503);
  }
}

/** Whether an error means a dependency (the database) could not be reached: answer 503, retry. */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? '';
  const message = String((error as Error).message ?? '');
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '53300', '08006', '08001', '08003'].includes(code) ||
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/i.test(message)
  );
}
