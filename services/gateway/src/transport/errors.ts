export type TransportErrorCode =
  'HF_TRANSPORT_CERTIFICATE' | 'HF_TRANSPORT_TLS_HANDSHAKE' | 'HF_TRANSPORT_CLOSED' | 'HF_TRANSPORT_STATE';

/** Errors of the client transports: each has a stable `code` and keeps the underlying error as `cause`. */
export class TransportError extends Error {
  override readonly name: string = 'TransportError';
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A configured certificate or key file is missing, unreadable, not PEM, or the two do not match. */
export class CertificateError extends TransportError {
  override readonly name = 'CertificateError';
  constructor(message: string, options?: ErrorOptions) {
    super('HF_TRANSPORT_CERTIFICATE', message, options);
  }
}

/** The TLS handshake (direct TLS or after `<proceed/>`) failed or did not finish in time. */
export class TlsHandshakeError extends TransportError {
  override readonly name = 'TlsHandshakeError';
  constructor(message: string, options?: ErrorOptions) {
    super('HF_TRANSPORT_TLS_HANDSHAKE', message, options);
  }
}

/** The connection went away while an operation on it was still pending. */
export class TransportClosedError extends TransportError {
  override readonly name = 'TransportClosedError';
  constructor(what: string, options?: ErrorOptions) {
    super('HF_TRANSPORT_CLOSED', `${what}: connection closed`, options);
  }
}

/** An operation the transport cannot do in its current state, e.g. a second STARTTLS. */
export class TransportStateError extends TransportError {
  override readonly name = 'TransportStateError';
  constructor(message: string, options?: ErrorOptions) {
    super('HF_TRANSPORT_STATE', message, options);
  }
}
