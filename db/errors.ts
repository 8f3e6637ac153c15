// Classifying database failures decides what a writer does next (SPEC §1.4): a transient failure is
// retried and never dead-lettered; a deterministic one is the row's fault and goes to the DLQ as DB_REJECTED.

export type PgErrorClass = 'transient' | 'deterministic' | 'unknown';

/** The database (or the connection to it) failed in a way that may succeed on retry. `cause` keeps the original. */
export class TransientDbError extends Error {
  override name = 'TransientDbError';
  readonly code: string | undefined;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = pgErrorCode(options?.cause);
  }
}

/** A row the database can never accept (raised by encoders that validate before writing, e.g. COPY lines). */
export class RowRejectedError extends Error {
  override name = 'RowRejectedError';
}

/** A migration file and the migration ledger disagree (edited applied migration, missing file, bad order). */
export class MigrationError extends Error {
  override name = 'MigrationError';
}

// Node-level socket errors that mean "the connection went away", not "the statement is wrong".
const transientSocketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// Messages node-pg raises without a SQLSTATE when the connection breaks or the pool cannot connect.
const transientMessages = [
  /connection terminated/i,
  /connection (?:is )?closed/i,
  /timeout exceeded when trying to connect/i,
  /client has encountered a connection error/i,
  /cannot use a pool after calling end/i,
  /connection refused/i,
  /server closed the connection unexpectedly/i,
  /terminating connection/i,
];

// SQLSTATEs (exact) that are transient.
const transientStates = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57014', // query_canceled (statement_timeout): the same statement can succeed on a less loaded DB
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / recovery)
  '58000', // system_error
  '58030', // io_error
]);

export function pgErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * transient: connection refused/reset/terminated, class 08 (connection), 40001/40P01, class 53 (resources),
 *   57P01-57P03 (shutdown / starting), 57014 (statement timeout), 55P03, 58xxx.
 * deterministic: class 22 (data exception), class 23 (integrity violation), class 54 (program limit, e.g. an
 *   index row too large) — the same row fails the same way every time.
 * unknown: anything else (e.g. 42xxx is a bug in our SQL, not the row's fault).
 */
export function classifyPgError(err: unknown): PgErrorClass {
  if (err instanceof TransientDbError) return 'transient';
  if (err instanceof RowRejectedError) return 'deterministic';
  const code = pgErrorCode(err);
  if (code !== undefined) {
    if (transientSocketCodes.has(code)) return 'transient';
    if (/^[0-9A-Z]{5}$/.test(code)) {
      if (transientStates.has(code)) return 'transient';
      const cls = code.slice(0, 2);
      if (cls === '08' || cls === '53') return 'transient';
      if (cls === '22' || cls === '23' || cls === '54') return 'deterministic';
      return 'unknown';
    }
  }
  const msg = errorMessage(err);
  if (transientMessages.some((re) => re.test(msg))) return 'transient';
  return 'unknown';
}

/** Wrap transient failures as TransientDbError (idempotent); return anything else unchanged. */
export function asTransient(err: unknown, context: string): unknown {
  if (err instanceof TransientDbError) return err;
  if (classifyPgError(err) === 'transient') {
    return new TransientDbError(`${context}: ${errorMessage(err)}`, { cause: err });
  }
  return err;
}
