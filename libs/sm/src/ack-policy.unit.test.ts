import { describe, expect, it } from 'vitest';

import {
  ackDelayDueAt,
  afterAck,
  afterClientRequest,
  afterFlush,
  initialAckPolicyState,
  onCsiActive,
  onCsiInactive,
  onReadTimeout,
  onResumed,
  onTimer,
  readTimeoutDueAt,
  unacked,
} from './ack-policy.js';
import type { AckPolicyConfig, AckPolicyState } from './ack-policy.js';
import { MAX_COUNTER } from './counter.js';

/** Spec §8 test profile: max_inactive_unacked_stanzas clamped to max_queue_size − 1 = 4 (§3). */
const profile: AckPolicyConfig = {
  maxUnackedStanzas: 0,
  maxInactiveUnackedStanzas: 4,
  maxAckDelayS: 2,
  readTimeoutS: 4,
};

/** What one step made the gateway do: `r` = write `<r/>`, `-` = nothing. */
type Effect = 'r' | '-' | 'close' | 'ack-delayed' | 'too-high' | 'too-low';

type When = (state: AckPolicyState, config: AckPolicyConfig) => { state: AckPolicyState; effect: Effect };

const effectOf = (requestAck: boolean): Effect => (requestAck ? 'r' : '-');

const flush =
  (flushed: number, nowMs = 0): When =>
  (state, config) => {
    const step = afterFlush(state, config, { flushed, nowMs });
    return { state: step.state, effect: effectOf(step.requestAck) };
  };
const ack =
  (h: number, nowMs = 0): When =>
  (state, config) => {
    const step = afterAck(state, config, { h, nowMs });
    return {
      state: step.state,
      effect: step.kind === 'violation' ? step.violation : effectOf(step.requestAck),
    };
  };
const clientRequest =
  (nowMs = 0): When =>
  (state, config) => {
    const step = afterClientRequest(state, config, { nowMs });
    return { state: step.state, effect: effectOf(step.requestAck) };
  };
const inactive = (): When => (state) => ({ state: onCsiInactive(state).state, effect: '-' });
const active =
  (nowMs = 0): When =>
  (state) => {
    const step = onCsiActive(state, { nowMs });
    return { state: step.state, effect: effectOf(step.requestAck) };
  };
const resumed =
  (nowMs = 0): When =>
  (state) => {
    const step = onResumed(state, { nowMs });
    return { state: step.state, effect: effectOf(step.requestAck) };
  };
const readTimeout =
  (nowMs = 0): When =>
  (state) => {
    const step = onReadTimeout(state, { nowMs });
    return { state: step.state, effect: step.closeTransport ? 'close' : effectOf(step.requestAck) };
  };
const timer =
  (nowMs: number): When =>
  (state, config) => {
    const step = onTimer(state, config, { nowMs });
    return { state: step.state, effect: step.ackDelayed ? 'ack-delayed' : effectOf(step.requestAck) };
  };

/** given(state).when(...steps).then(effects): one effect per step, in order. */
function given(state: AckPolicyState, config: AckPolicyConfig = profile) {
  return {
    when(...steps: When[]) {
      let current = state;
      const effects: Effect[] = [];
      for (const step of steps) {
        const result = step(current, config);
        current = result.state;
        effects.push(result.effect);
      }
      return {
        then(expected: readonly Effect[]): AckPolicyState {
          expect(effects).toEqual(expected);
          return current;
        },
      };
    },
  };
}

const enabled = initialAckPolicyState({ sent: 0, acked: 0 });

describe('ack policy (spec §2.6)', () => {
  it('starts not awaiting, active, nothing requested', () => {
    expect(enabled).toEqual({
      awaitingAck: false,
      lastRequested: undefined,
      sent: 0,
      acked: 0,
      csiInactive: false,
      rSentAt: undefined,
      ackDelayEmitted: false,
    });
  });

  it('scenario 10: given SM enabled, when one stanza is flushed and then 3 more, then exactly one <r/>', () => {
    const state = given(enabled).when(flush(1, 100), flush(1), flush(1), flush(1)).then(['r', '-', '-', '-']);
    expect(state).toMatchObject({ awaitingAck: true, lastRequested: 1, sent: 4, rSentAt: 100 });
    expect(unacked(state)).toBe(4);
  });

  it('scenario 11: given an <r/> for n stanzas, when <a h=n/>, then no <r/> until another stanza is sent', () => {
    const awaiting = given(enabled).when(flush(3)).then(['r']);
    const state = given(awaiting).when(ack(3), clientRequest(), flush(1)).then(['-', '-', 'r']);
    expect(state).toMatchObject({ awaitingAck: true, lastRequested: 4, acked: 3 });
  });

  it('given a client that acks low, when it answers, then no <r/> loop while sent is unchanged', () => {
    const state = given(enabled).when(flush(3), ack(1), ack(1), clientRequest()).then(['r', '-', '-', '-']);
    expect(state).toMatchObject({ awaitingAck: false, lastRequested: 3, acked: 1 });
    given(state).when(flush(1)).then(['r']);
  });

  it('given an outstanding <r/>, when the ack leaves more than the threshold and sent moved on, then <r/> again', () => {
    given(enabled).when(flush(1), flush(2), ack(1)).then(['r', '-', 'r']);
  });

  it('given a piggy-back opportunity, when a client <r/> is answered with stanzas unacked, then <r/> (same guard)', () => {
    const awaiting = given(enabled).when(flush(2)).then(['r']);
    given(awaiting).when(clientRequest(), ack(2), flush(1), clientRequest()).then(['-', '-', 'r', '-']);
    const loaded = given(enabled, { ...profile, maxUnackedStanzas: 5 })
      .when(flush(5))
      .then(['-']);
    given(loaded, profile).when(clientRequest()).then(['r']);
  });

  it('§7.10: an <a/> equal to the previous ack clears awaiting; an unsolicited one is fine', () => {
    const awaiting = given(enabled).when(flush(2), ack(2), flush(1)).then(['r', '-', 'r']);
    const cleared = given(awaiting).when(ack(2)).then(['-']);
    expect(cleared).toMatchObject({ awaitingAck: false, acked: 2, rSentAt: undefined });
    given(cleared).when(ack(2), ack(3)).then(['-', '-']);
  });

  it('scenarios 12, 13: given a bad <a/>, then a violation and the state is unchanged', () => {
    const awaiting = given(enabled).when(flush(2)).then(['r']);
    const step = afterAck(awaiting, profile, { h: 3, nowMs: 0 });
    expect(step).toEqual({ kind: 'violation', violation: 'too-high', state: awaiting, requestAck: false });
    given(awaiting).when(ack(2), ack(1)).then(['-', 'too-low']);
  });

  it('reports how many stanzas an <a/> acknowledges, across the counter wrap (§7.11)', () => {
    const nearWrap = initialAckPolicyState({ sent: MAX_COUNTER - 1, acked: MAX_COUNTER - 1 });
    const state = given(nearWrap).when(flush(4)).then(['r']);
    expect(state.sent).toBe(2);
    expect(afterAck(state, profile, { h: 1, nowMs: 0 })).toMatchObject({ kind: 'acked', newlyAcked: 3 });
    expect(afterAck(state, profile, { h: 3, nowMs: 0 })).toMatchObject({ violation: 'too-high' });
  });

  it('scenario 16: given idle, when the read timeout fires, then <r/>; answered, the next probe is <r/> again', () => {
    given(enabled).when(readTimeout(), ack(0), readTimeout()).then(['r', '-', 'r']);
  });

  it('scenario 16: given the probe <r/> unanswered, when the read timeout fires again, then close the transport', () => {
    const state = given(enabled).when(readTimeout(), readTimeout()).then(['r', 'close']);
    expect(state.awaitingAck).toBe(true);
  });

  it('scenario 17: given CSI inactive and no <r/> outstanding, when 3 stanzas are flushed, then none; <active/> forces one', () => {
    const idle = given(enabled).when(inactive(), flush(1), flush(1), flush(1)).then(['-', '-', '-', '-']);
    expect(idle.csiInactive).toBe(true);
    const state = given(idle).when(active(50)).then(['r']);
    expect(state).toMatchObject({ csiInactive: false, awaitingAck: true, lastRequested: 3, rSentAt: 50 });
  });

  it('given CSI inactive, when unacked passes the inactive threshold, then <r/>', () => {
    given(enabled).when(inactive(), flush(4), flush(1)).then(['-', '-', 'r']);
  });

  it('given an outstanding <r/>, when CSI becomes active, then no second <r/>', () => {
    given(enabled).when(flush(1), inactive(), active()).then(['r', '-', '-']);
  });

  it('given nothing unacked, when CSI becomes active, then <r/> anyway (forced)', () => {
    given(enabled).when(active()).then(['r']);
  });

  it('§2.3 step 8: given a resumed session that was awaiting and inactive, then <r/> at once and active', () => {
    const old = given(initialAckPolicyState({ sent: 3, acked: 1 }))
      .when(inactive(), flush(9))
      .then(['-', 'r']);
    const state = given(old).when(resumed(7)).then(['r']);
    expect(state).toMatchObject({ awaitingAck: true, csiInactive: false, lastRequested: 12, rSentAt: 7 });
  });

  it('emits ack-delayed once per outstanding <r/> after max_ack_delay_s', () => {
    const awaiting = given(enabled).when(flush(1, 1000)).then(['r']);
    expect(ackDelayDueAt(awaiting, profile)).toBe(3000);
    const state = given(awaiting).when(timer(2999), timer(3000), timer(9000)).then(['-', 'ack-delayed', '-']);
    expect(ackDelayDueAt(state, profile)).toBeUndefined();
    const next = given(state).when(ack(1), flush(1, 10_000), timer(12_000)).then(['-', 'r', 'ack-delayed']);
    expect(next.ackDelayEmitted).toBe(true);
  });

  it('never emits ack-delayed with max_ack_delay_s = 0, or with no <r/> outstanding', () => {
    const never = { ...profile, maxAckDelayS: 0 };
    const awaiting = given(enabled, never).when(flush(1)).then(['r']);
    given(awaiting, never).when(timer(1_000_000)).then(['-']);
    given(enabled).when(timer(1_000_000)).then(['-']);
  });

  it('schedules the read timeout from the last inbound byte', () => {
    expect(readTimeoutDueAt(10_000, profile)).toBe(14_000);
  });

  it('refuses a bad flush count or clock as caller errors', () => {
    expect(() => afterFlush(enabled, profile, { flushed: -1, nowMs: 0 })).toThrow(
      expect.objectContaining({ code: 'HF_SM_COUNTER_INVALID' }),
    );
    expect(() => afterFlush(enabled, profile, { flushed: 1, nowMs: Number.NaN })).toThrow(
      expect.objectContaining({ code: 'HF_SM_TIME_INVALID' }),
    );
  });
});
