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
