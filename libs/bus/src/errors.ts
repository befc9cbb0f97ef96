import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

/** Errors of the bus library: each has a stable `code` and keeps the NATS error as `cause`. */
export type BusErrorCode =
  'HF_BUS_CONFLICT' | 'HF_BUS_TIMEOUT' | 'HF_BUS_NO_RESPONDERS' | 'HF_BUS_REMOTE' | 'HF_BUS_UNAVAILABLE';

export class BusError extends Error {
  override readonly name: string = 'BusError';
  constructor(
    readonly code: BusErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Optimistic concurrency: the subject's last sequence was not the one the publisher expected. */
export class ConcurrencyConflictError extends BusError {
  override readonly name = 'ConcurrencyConflictError';
  constructor(subject: string, expected: number, options?: ErrorOptions) {
    super('HF_BUS_CONFLICT', `${subject}: last sequence is not ${expected}`, options);
  }
}

/** No reply (request) or no publish acknowledgement (JetStream) in time. */
export class BusTimeoutError extends BusError {
  override readonly name = 'BusTimeoutError';
  constructor(what: string, options?: ErrorOptions) {
    super('HF_BUS_TIMEOUT', `${what}: timed out`, options);
  }
}

/** Nobody serves the subject (request), or no stream captures it (publish). */
export class NoRespondersError extends BusError {
  override readonly name = 'NoRespondersError';
  constructor(subject: string, options?: ErrorOptions) {
    super('HF_BUS_NO_RESPONDERS', `${subject}: no responders`, options);
  }
}

/** The serving side failed to handle a request and said so in its reply. */
export class RemoteError extends BusError {
  override readonly name = 'RemoteError';
  constructor(
    subject: string,
    readonly remoteCode: string,
    description: string,
  ) {
    super('HF_BUS_REMOTE', `${subject}: ${remoteCode}: ${description}`);
  }
}

/**
 * A JetStream compare-and-set lost: the subject's (or KV key's) last sequence was not the expected one.
 * The caller reads again and retries.
 */
export function isWrongLastSequence(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
