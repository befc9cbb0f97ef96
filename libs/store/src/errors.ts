import { MongoError, MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';

export type StoreErrorCode = 'HF_STORE_DUPLICATE_KEY' | 'HF_STORE_UNAVAILABLE';

/** Errors of the store library: each has a stable `code` and keeps the driver's error as `cause`. */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A write hit a unique index (MongoDB/FerretDB error 11000). */
export class DuplicateKeyError extends StoreError {
  override readonly name = 'DuplicateKeyError';
  constructor(
    readonly collection: string,
    /** The index name, when the server says which (MongoDB does; FerretDB 1.x does not). */
    readonly index: string | undefined,
    options?: ErrorOptions,
  ) {
    super(
      'HF_STORE_DUPLICATE_KEY',
      `duplicate key in ${collection}${index ? ` (index ${index})` : ''}`,
      options,
    );
  }
}

/** The server could not be reached, or stayed in a transient failure state, for every retry. */
export class StoreUnavailableError extends StoreError {
  override readonly name = 'StoreUnavailableError';
  constructor(what: string, options?: ErrorOptions) {
    super('HF_STORE_UNAVAILABLE', `${what}: store unavailable`, options);
  }
}

const DUPLICATE_KEY = 11000;

/** Server codes that mean "try again": failover, shutdown, network trouble (MongoDB error codes). */
const TRANSIENT_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/**
 * Socket errors the driver (7.9) sometimes lets through unwrapped, e.g. EPIPE "This socket has been ended by
 * the other party" when a pooled connection is written to just after the server went away.
 */
const TRANSIENT_SOCKET_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT']);

export function isTransient(error: unknown): boolean {
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  const socketCode = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof socketCode === 'string' && TRANSIENT_SOCKET_CODES.has(socketCode)) return true;
  if (error instanceof MongoError) {
    if (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('TransientTransactionError'))
      return true;
    if (typeof error.code === 'number' && TRANSIENT_CODES.has(error.code)) return true;
  }
  return false;
}

/** Maps a driver error from an operation on `collection` into this library's errors. */
export function toStoreError(error: unknown, collection: string): unknown {
  if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) {
    const index = /index: (\S+)/.exec(error.message)?.[1];
    return new DuplicateKeyError(collection, index, { cause: error });
  }
  return error;
}

/**
 * How many documents of the write behind `error` were already there (a replay, a retried batch): 1 for a
 * single insert, the failed documents of an unordered bulk insert; undefined when any failure was not a
 * duplicate key.
 */
export function duplicateKeyCount(error: DuplicateKeyError): number | undefined {
  const { code, writeErrors } = (error.cause ?? {}) as { code?: unknown; writeErrors?: unknown };
  if (writeErrors === undefined) return code === DUPLICATE_KEY ? 1 : undefined;
  const list = Array.isArray(writeErrors) ? (writeErrors as unknown[]) : [writeErrors];
  const duplicates = list.every(
    (writeError) => (writeError as { code?: unknown } | undefined)?.code === DUPLICATE_KEY,
  );
  return duplicates ? list.length : undefined;
}
