export type SmErrorCode = 'HF_SM_COUNTER_INVALID' | 'HF_SM_TIME_INVALID';

/**
 * A caller error, never a peer's fault: a counter outside 0..2^32−1 or a step count that is not a
 * non-negative integer (`HF_SM_COUNTER_INVALID`), or an invalid `Date` / millisecond time
 * (`HF_SM_TIME_INVALID`). Peer input is parsed with `parseH` and answered with `<failed/>` or a stream
 * error, it never throws.
 */
export class SmError extends Error {
  override readonly name = 'SmError';

  constructor(
    readonly code: SmErrorCode,
    message: string,
  ) {
    super(message);
  }
}
