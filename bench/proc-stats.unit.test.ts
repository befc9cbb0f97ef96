import { describe, expect, it } from 'vitest';

import {
  cpuBetween,
  machineCoresBetween,
  parseProcStatBusySeconds,
  parseStatCpuTicks,
  parseStatParentPid,
  parseVmRssKb,
  withDescendants,
} from './proc-stats.js';

describe('parseVmRssKb', () => {
  it('reads VmRSS in kB', () => {
    expect(parseVmRssKb('Name:\tbeam.smp\nVmPeak:\t 999 kB\nVmRSS:\t   123456 kB\nRssAnon:\t 1 kB\n')).toBe(
      123456,
    );
  });

  it('is null without VmRSS (kernel threads, zombies)', () => {
    expect(parseVmRssKb('Name:\tkthreadd\nState:\tS\n')).toBeNull();
  });
});

describe('parseStatParentPid', () => {
  it('reads the parent pid after the command name, even one with spaces and parentheses', () => {
    expect(parseStatParentPid('4242 (lua5.4) S 4200 4242 4242 0 -1')).toBe(4200);
    expect(parseStatParentPid('77 (a (b) c) R 1 77 77 0')).toBe(1);
    expect(parseStatParentPid('garbage')).toBeNull();
  });
});

describe('withDescendants', () => {
  it('collects whole trees, once each', () => {
    const parents = new Map([
      [10, 1],
      [11, 10],
      [12, 11],
      [20, 1],
      [21, 20],
      [30, 1],
    ]);
    expect(withDescendants([10, 20, 11], parents)).toEqual([10, 11, 12, 20, 21]);
    expect(withDescendants([99], parents)).toEqual([99]);
  });
});

describe('parseStatCpuTicks', () => {
  it('adds utime and stime', () => {
    const stat = '4242 (beam.smp) S 4200 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 30 0 1000';
    expect(parseStatCpuTicks(stat)).toBe(300);
    expect(parseStatCpuTicks('nonsense')).toBeNull();
  });
});

describe('cpuBetween', () => {
  it('gives cores used per command and in total', () => {
    const start = { at: 0, byName: new Map([['prosody/lua5.4', 10]]) };
    const end = {
      at: 2000,
      byName: new Map([
        ['prosody/lua5.4', 11.5],
        ['ejabberd/epmd', 0.02],
      ]),
    };
    expect(cpuBetween(start, end)).toEqual({
      total: 0.76,
      byProcess: { 'prosody/lua5.4': 0.75, 'ejabberd/epmd': 0.01 },
    });
  });
});

describe('parseProcStatBusySeconds', () => {
  it('adds everything but idle and iowait from the aggregate cpu line', () => {
    const text = 'cpu  100 5 50 9000 40 3 2 0 0 0\ncpu0 50 2 25 4500 20 1 1 0 0 0\n';
    expect(parseProcStatBusySeconds(text)).toBe(1.6);
    expect(parseProcStatBusySeconds('intr 1 2 3')).toBeNull();
  });
});

describe('machineCoresBetween', () => {
  it('divides busy seconds by wall seconds', () => {
    expect(machineCoresBetween({ at: 1000, busyS: 10 }, { at: 3000, busyS: 13 })).toBe(1.5);
  });
});
