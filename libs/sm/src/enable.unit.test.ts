import { describe, expect, it } from 'vitest';

import { decideEnable } from './enable.js';
import type { SmStreamSnapshot } from './stream.js';

const boundC2s: SmStreamSnapshot = {
  authenticated: true,
  bound: true,
  smEnabled: false,
  s2s: false,
  enabledS2s: true,
  hibernationTimeS: 5,
};
const verifiedS2s: SmStreamSnapshot = {
  authenticated: false,
  bound: false,
  smEnabled: false,
  s2s: true,
  enabledS2s: true,
  verifiedDomainPair: true,
  hibernationTimeS: 5,
};
const given = (changes: Partial<SmStreamSnapshot>, base = boundC2s): SmStreamSnapshot => ({
  ...base,
  ...changes,
});

describe('decideEnable: §1.4 refusals, first matching row wins', () => {
  it('given an unauthenticated c2s stream, then service-unavailable, even when also unbound or enabled', () => {
    expect(decideEnable(given({ authenticated: false, bound: false }), {})).toEqual({
      kind: 'failed',
      condition: 'service-unavailable',
    });
    expect(decideEnable(given({ authenticated: false, smEnabled: true }), {})).toMatchObject({
      condition: 'service-unavailable',
    });
  });

  it('given s2s before a verified domain pair, or enabled_s2s off, then service-unavailable (§1.6)', () => {
    expect(decideEnable(given({ verifiedDomainPair: false }, verifiedS2s), {})).toMatchObject({
      condition: 'service-unavailable',
    });
    expect(decideEnable(given({ verifiedDomainPair: undefined }, verifiedS2s), {})).toMatchObject({
      condition: 'service-unavailable',
    });
    expect(decideEnable(given({ enabledS2s: false }, verifiedS2s), {})).toMatchObject({
      condition: 'service-unavailable',
    });
  });

  it('given SM already enabled, then unexpected-request (scenario 6), also on s2s', () => {
    expect(decideEnable(given({ smEnabled: true }), { resume: 'true' })).toEqual({
      kind: 'failed',
      condition: 'unexpected-request',
    });
    expect(decideEnable(given({ smEnabled: true }, verifiedS2s), {})).toMatchObject({
      condition: 'unexpected-request',
    });
  });

  it('given authenticated but unbound c2s, then unexpected-request (scenario 2)', () => {
    expect(decideEnable(given({ bound: false }), {})).toEqual({
      kind: 'failed',
      condition: 'unexpected-request',
    });
  });
});

describe('decideEnable: what is granted (§1.2, §1.6)', () => {
  it('given a bound stream, when <enable/> without resume, then not resumable and no max (scenario 3)', () => {
    expect(decideEnable(boundC2s, {})).toEqual({ kind: 'enable', resumable: false });
    expect(decideEnable(boundC2s, { max: '3' })).toEqual({ kind: 'enable', resumable: false });
  });

  it("when resume is 'true' or '1', then resumable with max = hibernation_time_s (scenario 4)", () => {
    expect(decideEnable(boundC2s, { resume: 'true' })).toEqual({ kind: 'enable', resumable: true, max: 5 });
    expect(decideEnable(boundC2s, { resume: '1' })).toEqual({ kind: 'enable', resumable: true, max: 5 });
  });

  it('when resume is anything else, then not resumable', () => {
    for (const resume of ['false', '0', 'TRUE', 'True', 'yes', '', ' true']) {
      expect(decideEnable(boundC2s, { resume }), resume).toEqual({ kind: 'enable', resumable: false });
    }
  });

  it('when the client sends max, then max = min(client max, hibernation_time_s) (scenario 5)', () => {
    expect(decideEnable(boundC2s, { resume: 'true', max: '2' })).toMatchObject({ max: 2 });
    expect(decideEnable(boundC2s, { resume: 'true', max: '60' })).toMatchObject({ max: 5 });
    expect(decideEnable(boundC2s, { resume: 'true', max: '5' })).toMatchObject({ max: 5 });
    expect(decideEnable(boundC2s, { resume: 'true', max: '1' })).toMatchObject({ max: 1 });
    expect(decideEnable(boundC2s, { resume: 'true', max: '99999999999999999999999' })).toMatchObject({
      max: 5,
    });
  });

  it('when max is 0, negative or not an integer, then it is ignored (§7.18)', () => {
    for (const max of ['0', '000', '-3', '2.5', '2.0', '1e1', 'abc', '', ' 2', '+2']) {
      expect(decideEnable(boundC2s, { resume: 'true', max }), max).toEqual({
        kind: 'enable',
        resumable: true,
        max: 5,
      });
    }
  });

  it('given hibernation_time_s = 0, when resume is asked, then plain enabled (scenario 44)', () => {
    expect(decideEnable(given({ hibernationTimeS: 0 }), { resume: 'true', max: '2' })).toEqual({
      kind: 'enable',
      resumable: false,
    });
  });

  it('given a verified s2s stream, when resume is asked, then enabled but never resumable (§1.6)', () => {
    expect(decideEnable(verifiedS2s, { resume: 'true' })).toEqual({ kind: 'enable', resumable: false });
  });

  it('given location configured, then the decision carries it, resumable or not (§1.2)', () => {
    const options = { location: 'gw1.example.org:5222' };
    expect(decideEnable(boundC2s, { resume: '1' }, options)).toEqual({
      kind: 'enable',
      resumable: true,
      max: 5,
      location: 'gw1.example.org:5222',
    });
    expect(decideEnable(boundC2s, {}, options)).toEqual({
      kind: 'enable',
      resumable: false,
      location: 'gw1.example.org:5222',
    });
    expect(decideEnable(boundC2s, {}, {})).not.toHaveProperty('location');
  });
});
