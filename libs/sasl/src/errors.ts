/** RFC 6120 §6.5: the defined SASL failure conditions, sent as `<failure><condition/></failure>`. */
export const SASL_CONDITIONS = [
  'aborted',
  'account-disabled',
  'credentials-expired',
  'encryption-required',
  'incorrect-encoding',
  'invalid-authzid',
  'invalid-mechanism',
  'malformed-request',
  'mechanism-too-weak',
  'not-authorized',
  'temporary-auth-failure',
] as const;

export type SaslCondition = (typeof SASL_CONDITIONS)[number];

/**
 * A SASL exchange ended in failure. `condition` goes on the wire as is; `text` is optional descriptive
 * text for the `<text/>` child. It never says whether the account exists or which part of a proof was
 * wrong: `not-authorized` carries no text.
 */
export class SaslFailure extends Error {
  override readonly name = 'SaslFailure';
  readonly code = 'HF_SASL_FAILURE';

  constructor(
    readonly condition: SaslCondition,
    readonly text?: string,
    options?: ErrorOptions,
  ) {
    super(text === undefined ? condition : `${condition}: ${text}`, options);
  }
}

export type SaslprepErrorCode = 'HF_SASLPREP_PROHIBITED' | 'HF_SASLPREP_UNASSIGNED' | 'HF_SASLPREP_BIDI';

/** The string cannot be prepared by SASLprep (RFC 4013 §2.3-2.5). The message never echoes the input. */
export class SaslprepError extends Error {
  override readonly name = 'SaslprepError';

  constructor(
    readonly code: SaslprepErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type CredentialErrorCode = 'HF_SASL_CREDENTIAL_INVALID' | 'HF_SASL_PARAMETER_INVALID';

/**
 * A caller or data error, not a client's fault: a stored credential that does not decode
 * (`HF_SASL_CREDENTIAL_INVALID`), or a bad salt, iteration count, nonce, secret or random source
 * (`HF_SASL_PARAMETER_INVALID`).
 */
export class CredentialError extends Error {
  override readonly name = 'CredentialError';

  constructor(
    readonly code: CredentialErrorCode,
    message: string,
  ) {
    super(message);
  }
}
