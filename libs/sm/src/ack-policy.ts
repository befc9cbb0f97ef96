import { add, subtract, validateAck } from './counter.js';
import type { AckViolation } from './counter.js';
import { SmError } from './errors.js';

/** §2.6 state of one ACTIVE SM stream's outbound side. */
export interface AckPolicyState {
  /** An `<r/>` is outstanding (only one at a time). */
  readonly awaitingAck: boolean;
  /** `sent` when the last `<r/>` went out; stops `<r/>` loops with a client that acks low. */
  readonly lastRequested: number | undefined;
  readonly sent: number;
  readonly acked: number;
  /** XEP-0352 inactive: the higher threshold applies. */
  readonly csiInactive: boolean;
  /** When the outstanding `<r/>` went out, in ms. */
  readonly rSentAt?: number | undefined;
  /** `sm.ack_delayed` already emitted for the outstanding `<r/>`. */
  readonly ackDelayEmitted: boolean;
}

/** §3 keys, already validated and clamped below `max_queue_size`. */
export interface AckPolicyConfig {
  readonly maxUnackedStanzas: number;
  readonly maxInactiveUnackedStanzas: number;
  /** 0 = never emit `sm.ack_delayed`. */
  readonly maxAckDelayS: number;
  readonly readTimeoutS: number;
}

export interface AckPolicyStep {
  readonly state: AckPolicyState;
  /** Write `<r/>` now. */
  readonly requestAck: boolean;
}

export type AckStep =
  | (AckPolicyStep & { readonly kind: 'acked'; readonly newlyAcked: number })
  /** §1.5: close with `handledCountTooHighError` / `handledCountTooLowError`; `state` is unchanged. */
  | (AckPolicyStep & {
      readonly kind: 'violation';
      readonly violation: AckViolation;
      readonly requestAck: false;
    });

export interface ReadTimeoutStep extends AckPolicyStep {
  /** §2.6: the probe `<r/>` went unanswered for another read timeout: drop the transport (T5/T6). */
  readonly closeTransport: boolean;
}

export interface TimerStep extends AckPolicyStep {
  /** §2.6: emit `sm.ack_delayed` (c2s) or close with `connection-timeout` (s2s, §1.5). */
  readonly ackDelayed: boolean;
}

/** §1.3: counters start at 0 on `<enabled/>`; a resumed session carries its counters over. */
export function initialAckPolicyState(counters: {
  readonly sent: number;
  readonly acked: number;
}): AckPolicyState {
  return {
    awaitingAck: false,
    lastRequested: undefined,
    sent: counters.sent,
    acked: counters.acked,
    csiInactive: false,
    rSentAt: undefined,
    ackDelayEmitted: false,
  };
}

export function unacked(state: AckPolicyState): number {
  return subtract(state.sent, state.acked);
}

function assertTime(nowMs: number): void {
  if (!Number.isFinite(nowMs)) throw new SmError('HF_SM_TIME_INVALID', 'nowMs is not a finite number');
}

function requested(state: AckPolicyState, nowMs: number): AckPolicyStep {
  assertTime(nowMs);
  return {
    state: { ...state, awaitingAck: true, lastRequested: state.sent, rSentAt: nowMs, ackDelayEmitted: false },
    requestAck: true,
  };
}

/** §2.6 guard: not awaiting, `unacked > threshold` (CSI-inactive: the inactive one), `sent ≠ last_requested`. */
function requestIfNeeded(state: AckPolicyState, config: AckPolicyConfig, nowMs: number): AckPolicyStep {
  const threshold = state.csiInactive ? config.maxInactiveUnackedStanzas : config.maxUnackedStanzas;
  if (!state.awaitingAck && unacked(state) > threshold && state.sent !== state.lastRequested) {
    return requested(state, nowMs);
  }
  return { state, requestAck: false };
}

/** §2.6 forced: every guard but "not awaiting" is ignored. */
function requestUnlessAwaiting(state: AckPolicyState, nowMs: number): AckPolicyStep {
  return state.awaitingAck ? { state, requestAck: false } : requested(state, nowMs);
}

/** §2.6: a batch of `flushed` outbound stanzas was written to the socket (§1.3: `sent` counts them). */
export function afterFlush(
  state: AckPolicyState,
  config: AckPolicyConfig,
  input: { readonly flushed: number; readonly nowMs: number },
): AckPolicyStep {
  return requestIfNeeded({ ...state, sent: add(state.sent, input.flushed) }, config, input.nowMs);
}

/**
 * §2.6, §7.10: an `<a h/>` with a well-formed `h` (§1.3 window check). Any valid `<a/>` clears
 * `awaiting_ack`, even one equal to the previous ack or unsolicited; then the same guard as a flush.
 */
export function afterAck(
  state: AckPolicyState,
  config: AckPolicyConfig,
  input: { readonly h: number; readonly nowMs: number },
): AckStep {
  const check = validateAck({ h: input.h, acked: state.acked, sent: state.sent });
  if (!check.ok) return { kind: 'violation', violation: check.kind, state, requestAck: false };
  const cleared: AckPolicyState = {
    ...state,
    acked: input.h,
    awaitingAck: false,
    rSentAt: undefined,
    ackDelayEmitted: false,
  };
  return { kind: 'acked', newlyAcked: check.newlyAcked, ...requestIfNeeded(cleared, config, input.nowMs) };
}

/** §2.6: piggy-back an `<r/>` on the answer to a client `<r/>`, same guard as a flush. */
export function afterClientRequest(
  state: AckPolicyState,
  config: AckPolicyConfig,
  input: { readonly nowMs: number },
): AckPolicyStep {
  return requestIfNeeded(state, config, input.nowMs);
}

/** XEP-0352 `<inactive/>`: only the threshold changes, no `<r/>`. */
export function onCsiInactive(state: AckPolicyState): AckPolicyStep {
  return { state: { ...state, csiInactive: true }, requestAck: false };
}

/** §2.6: CSI `<active/>` forces an `<r/>` unless one is outstanding. */
export function onCsiActive(state: AckPolicyState, input: { readonly nowMs: number }): AckPolicyStep {
  return requestUnlessAwaiting({ ...state, csiInactive: false }, input.nowMs);
}

/**
 * §2.3 step 8: after `<resumed/>` and the re-sent stanzas, clear `awaiting_ack` and send `<r/>` at once.
 * §2.3 step 5: CSI state is not carried over, the resumed stream starts active.
 */
export function onResumed(state: AckPolicyState, input: { readonly nowMs: number }): AckPolicyStep {
  return requested({ ...state, awaitingAck: false, csiInactive: false }, input.nowMs);
}

/**
 * §2.6: `read_timeout_s` without an inbound byte. Not awaiting: probe with `<r/>` (instead of a whitespace
 * keepalive). Already awaiting: the peer is gone, close the transport (→ T5 or T6).
 */
export function onReadTimeout(state: AckPolicyState, input: { readonly nowMs: number }): ReadTimeoutStep {
  if (state.awaitingAck) return { state, requestAck: false, closeTransport: true };
  return { ...requested(state, input.nowMs), closeTransport: false };
}

/** §2.6: when `onTimer` should next run for the ack delay, or `undefined` when nothing is pending. */
export function ackDelayDueAt(state: AckPolicyState, config: AckPolicyConfig): number | undefined {
  if (
    config.maxAckDelayS <= 0 ||
    !state.awaitingAck ||
    state.ackDelayEmitted ||
    state.rSentAt === undefined
  ) {
    return undefined;
  }
  return state.rSentAt + config.maxAckDelayS * 1000;
}

/**
 * §2.6: the outstanding `<r/>` unanswered for `max_ack_delay_s` → `ackDelayed`, once per `<r/>`
 * (0 = never). The caller runs it only while the session is ACTIVE; a stale timer is a no-op (§7.16).
 */
export function onTimer(
  state: AckPolicyState,
  config: AckPolicyConfig,
  input: { readonly nowMs: number },
): TimerStep {
  assertTime(input.nowMs);
  const dueAt = ackDelayDueAt(state, config);
  if (dueAt === undefined || input.nowMs < dueAt) return { state, requestAck: false, ackDelayed: false };
  return { state: { ...state, ackDelayEmitted: true }, requestAck: false, ackDelayed: true };
}

/** §2.6: when the read timeout fires after the last inbound byte, in ms. */
export function readTimeoutDueAt(lastInboundAtMs: number, config: AckPolicyConfig): number {
  return lastInboundAtMs + config.readTimeoutS * 1000;
}
