import { describe, expect, it } from 'vitest';

import { MAX_COUNTER } from './counter.js';
import { checkResumeRequest, decideResume } from './resume.js';
import type { ResumeRequest, ResumeSnapshot } from './resume.js';
import type { SmStreamSnapshot } from './stream.js';

const unboundC2s: SmStreamSnapshot = {
  authenticated: true,
  bound: false,
  smEnabled: false,
  s2s: false,
  enabledS2s: true,
  hibernationTimeS: 5,
};
const stream = (changes: Partial<SmStreamSnapshot>): SmStreamSnapshot => ({ ...unboundC2s, ...changes });

describe('checkResumeRequest: §2.3 step 1 in §1.4 order', () => {
  it('given an unauthenticated stream, then not-authorized before anything else (scenario 43)', () => {
    expect(checkResumeRequest(stream({ authenticated: false }), { previd: 'x', h: '0' })).toEqual({
      kind: 'failed',
      condition: 'not-authorized',
    });
    expect(checkResumeRequest(stream({ authenticated: false, hibernationTimeS: 0 }), {})).toMatchObject({
      condition: 'not-authorized',
    });
  });

  it('given a bound stream, then unexpected-request, even when resumption is disabled (scenario 26)', () => {
    expect(checkResumeRequest(stream({ bound: true }), { previd: 'x', h: '0' })).toEqual({
      kind: 'failed',
      condition: 'unexpected-request',
    });
    expect(checkResumeRequest(stream({ bound: true, hibernationTimeS: 0 }), {})).toMatchObject({
      condition: 'unexpected-request',
    });
  });

  it('given hibernation_time_s = 0 or an s2s stream, then feature-not-implemented (scenario 44, §1.6)', () => {
    expect(checkResumeRequest(stream({ hibernationTimeS: 0 }), { previd: 'x', h: '0' })).toEqual({
      kind: 'failed',
      condition: 'feature-not-implemented',
    });
    const s2s = stream({ s2s: true, authenticated: false, verifiedDomainPair: true });
    expect(checkResumeRequest(s2s, { previd: 'x', h: '0' })).toMatchObject({
      condition: 'feature-not-implemented',
    });
    expect(checkResumeRequest({ ...s2s, verifiedDomainPair: false }, {})).toMatchObject({
      condition: 'not-authorized',
    });
  });

  it('given previd missing or empty, or h missing or malformed, then bad-request', () => {
    for (const attrs of [
      { h: '0' },
      { previd: '', h: '0' },
      { previd: 'x' },
      { previd: 'x', h: '' },
      { previd: 'x', h: '-1' },
      { previd: 'x', h: '4294967296' },
      { previd: 'x', h: ' 1' },
    ]) {
      expect(checkResumeRequest(unboundC2s, attrs), JSON.stringify(attrs)).toEqual({
        kind: 'failed',
        condition: 'bad-request',
      });
    }
  });

  it('given a well-formed request, then previd and the parsed h', () => {
    expect(checkResumeRequest(unboundC2s, { previd: 'abc-_9', h: '4294967295' })).toEqual({
      kind: 'resume',
      previd: 'abc-_9',
      h: MAX_COUNTER,
    });
  });
});

const now = new Date('2025-03-01T12:00:00.000Z');
const later = (seconds: number): Date => new Date(now.getTime() + seconds * 1000);
const alice = 'alice@example.org';
const context = { bareJid: alice, now };
const request = (h: number): ResumeRequest => ({ kind: 'resume', previd: 'sm-1', h });
const hibernating: ResumeSnapshot = {
  bareJid: alice,
  state: 'HIBERNATING',
  sent: 2,
  acked: 0,
  inboundH: 3,
  deadline: later(5),
  version: 7,
};
const given = (changes: Partial<ResumeSnapshot>): ResumeSnapshot => ({ ...hibernating, ...changes });
const notFound = { kind: 'failed', condition: 'item-not-found' };

describe('decideResume: §2.3 step 2 against the snapshot', () => {
  it('given no stored session, then item-not-found without h (scenario 22)', () => {
    expect(decideResume(undefined, request(0), context)).toEqual(notFound);
  });

  it("given another user's session, then plain item-not-found and nothing to do to it (§7.6, scenario 25)", () => {
    expect(decideResume(hibernating, request(0), { ...context, bareJid: 'bob@example.org' })).toEqual(
      notFound,
    );
    const expired = given({ deadline: later(-1) });
    expect(decideResume(expired, request(0), { ...context, bareJid: 'bob@example.org' })).toEqual(notFound);
    const kept = given({ state: 'TERMINATED', terminatedKind: 'expired', hRecord: 4 });
    expect(decideResume(kept, request(0), { ...context, bareJid: 'bob@example.org' })).toEqual(notFound);
  });

  it('given a session closed (revoked), then item-not-found without h (scenarios 24, 47)', () => {
    expect(
      decideResume(given({ state: 'TERMINATED', terminatedKind: 'closed' }), request(0), context),
    ).toEqual(notFound);
    expect(decideResume(given({ state: 'TERMINATED' }), request(0), context)).toEqual(notFound);
  });

  it('given a kept h-record (expired, evicted, overflow), then failed h and delete the record (T14)', () => {
    for (const terminatedKind of ['expired', 'evicted', 'overflow'] as const) {
      const snapshot = given({ state: 'TERMINATED', terminatedKind, hRecord: 4 });
      expect(decideResume(snapshot, request(0), context), terminatedKind).toEqual({
        kind: 'failed',
        condition: 'item-not-found',
        h: 4,
        deleteRecord: true,
      });
    }
  });

  it('given a terminated session whose record was pruned, then plain item-not-found (§5, scenario 39)', () => {
    expect(
      decideResume(given({ state: 'TERMINATED', terminatedKind: 'evicted' }), request(0), context),
    ).toEqual(notFound);
  });

  it('given old_session_ttl_s, when the record is older, then item-not-found without h and delete it (§5)', () => {
    const snapshot = given({
      state: 'TERMINATED',
      terminatedKind: 'expired',
      hRecord: 4,
      terminatedAt: later(-60),
    });
    expect(decideResume(snapshot, request(0), { ...context, oldSessionTtlS: 60 })).toEqual({
      ...notFound,
      deleteRecord: true,
    });
    expect(decideResume(snapshot, request(0), { ...context, oldSessionTtlS: 61 })).toMatchObject({ h: 4 });
    expect(decideResume(snapshot, request(0), { ...context, oldSessionTtlS: 0 })).toMatchObject({ h: 4 });
  });

  it('given a hibernating session past its deadline, then failed h and expire it without a record (§5, §7.3)', () => {
    const expected = { kind: 'failed', condition: 'item-not-found', h: 3, expireWithoutRecord: true };
    expect(decideResume(given({ deadline: now }), request(2), context)).toEqual(expected);
    expect(decideResume(given({ deadline: later(-1) }), request(99), context)).toEqual(expected);
  });

  it('given a hibernating session, when h is outside the window, then undefined-condition (scenario 28)', () => {
    expect(decideResume(hibernating, request(3), context)).toEqual({
      kind: 'failed',
      condition: 'undefined-condition',
    });
    expect(decideResume(given({ acked: 1 }), request(0), context)).toEqual({
      kind: 'failed',
      condition: 'undefined-condition',
    });
  });

  it('given a hibernating session, when h is in the window, then a claim on version and acked (scenario 18)', () => {
    expect(decideResume(hibernating, request(2), context)).toEqual({
      kind: 'claim',
      expectedVersion: 7,
      expectedAcked: 0,
      acked: 2,
      newlyAcked: 2,
      takeover: false,
    });
    expect(decideResume(given({ acked: 1 }), request(1), context)).toMatchObject({ acked: 1, newlyAcked: 0 });
  });

  it('given an ACTIVE session (half-open old connection), then a takeover claim whatever its deadline (T12)', () => {
    const active = given({ state: 'ACTIVE', deadline: undefined });
    expect(decideResume(active, request(1), context)).toEqual({
      kind: 'claim',
      expectedVersion: 7,
      expectedAcked: 0,
      acked: 1,
      newlyAcked: 1,
      takeover: true,
    });
    expect(decideResume({ ...active, deadline: later(-10) }, request(1), context)).toMatchObject({
      kind: 'claim',
    });
  });

  it('accepts an h across the counter wrap (§7.11)', () => {
    const wrapped = given({ acked: MAX_COUNTER - 1, sent: 2 });
    expect(decideResume(wrapped, request(1), context)).toMatchObject({
      kind: 'claim',
      acked: 1,
      newlyAcked: 3,
    });
    expect(decideResume(wrapped, request(3), context)).toMatchObject({ condition: 'undefined-condition' });
  });

  it('refuses an invalid clock as a caller error', () => {
    expect(() => decideResume(hibernating, request(0), { ...context, now: new Date(Number.NaN) })).toThrow(
      expect.objectContaining({ code: 'HF_SM_TIME_INVALID' }),
    );
  });
});
