import { describe, expect, it } from 'vitest';

import { computeRatios, renderSummary, type Report, type ServerReport } from './report.js';
import type { ExpiryResult } from './scenarios/expiry.js';
import type { ThroughputResult } from './scenarios/throughput-merge.js';

const throughput = (messagesPerSecond: number): ThroughputResult => ({
  sm: true,
  pairs: 2,
  window: 100,
  durationS: 10,
  messagesPerSecond,
  delivered: messagesPerSecond * 10,
  sent: messagesPerSecond * 10,
  bounced: 0,
  undeliveredAtEnd: 0,
  latencyMs: { count: 10, p50: 1, p90: 2, p99: 3, max: 4, mean: 1.5 },
  clientCpu: { workers: 2, perWorkerCore: [0.3, 0.35], totalCores: 0.65 },
  warnings: [],
});

const lastQueued = (p99: number) => ({
  queued: 100,
  reps: 20,
  resumedMs: { count: 20, p50: 1, p90: 1, p99: 2, max: 2, mean: 1 },
  lastQueuedMs: { count: 20, p50: p99 / 2, p90: p99, p99, max: p99, mean: p99 / 2 },
});

const memory = (perSessionKb: number) => ({
  sessions: 1000,
  queuedPerSession: 10,
  beforeKb: 100_000,
  afterKb: 100_000 + perSessionKb * 1000,
  perSessionKb,
  processes: [],
});

const servers: ServerReport[] = [
  {
    name: 'holdfast',
    throughputSm: { error: 'SM enable refused' },
    throughputNoSm: throughput(6000),
    resume: { error: 'no SM' },
    memory: memory(20),
  },
  {
    name: 'prosody',
    throughputSm: throughput(4000),
    throughputNoSm: throughput(5000),
    resume: { '100': lastQueued(10) },
    memory: memory(10),
  },
  {
    name: 'ejabberd',
    throughputSm: throughput(8000),
    throughputNoSm: throughput(12000),
    resume: { '100': lastQueued(4) },
    memory: memory(40),
  },
];

describe('computeRatios', () => {
  it('divides Holdfast by each peer and leaves null where a side failed', () => {
    expect(computeRatios(servers, [100])).toEqual({
      throughputSm: { ejabberd: null, prosody: null },
      throughputNoSm: { ejabberd: 0.5, prosody: 1.2 },
      resumeLastQueuedP99: { '100': { ejabberd: null, prosody: null } },
      memoryPerSession: { ejabberd: 0.5, prosody: 2 },
    });
  });

  it('has no entries without Holdfast', () => {
    expect(computeRatios(servers.slice(1), []).throughputSm).toEqual({});
  });
});

const expiry: ExpiryResult = {
  method: 'straight into the session log',
  sessions: 1000,
  withQueuedStanzas: 10,
  queuedStanzas: 30,
  spreadS: 20,
  timeoutProcesses: 2,
  load: { events: 2030, seconds: 1.5, eventsPerSecond: 1353, leadS: 11.2, storedAfterDeadline: 0 },
  timers: {
    loadedAfterS: 0.2,
    rssBeforeKb: { 'timeout-1/node': 80_000, 'timeout-2/node': 81_920 },
    rssLoadedKb: { 'timeout-1/node': 81_024, 'timeout-2/node': 82_944 },
    bytesPerTimer: 2097,
  },
  lateMs: { count: 1000, p50: 60, p90: 90, p99: 140, max: 300, mean: 65 },
  decidedLateMs: { count: 1000, p50: 55, p90: 80, p99: 130, max: 290, mean: 60 },
  firing: {
    firstRequestLateMs: { count: 1000, p50: 50, p90: 70, p99: 100, max: 120, mean: 52 },
    requests: 1002,
    sessionsAskedAgain: 2,
    replies: { terminated: 1000, stale: 2 },
    unanswered: 0,
    replyMs: { count: 1002, p50: 5, p90: 9, p99: 40, max: 90, mean: 6 },
  },
  measured: 1000,
  terminated: 1000,
  early: 0,
  missing: 0,
  duplicates: 0,
  otherKinds: {},
  histogram: {},
  outcomes: { offline: 30 },
  target: { p99LateMs: 1000, met: true },
  window: { startedAt: '2026-01-01T00:00:00Z', measuredS: 20.4 },
  cost: {
    byProcess: {
      'gateway/node': { cpuS: 4.2, cores: 0.2, peakRssKb: 200_000 },
      'timeout-1/node': { cpuS: 0.5, cores: 0.02, peakRssKb: 90_000 },
      'ferretdb/ferretdb': { cpuS: 1, cores: 0.05, peakRssKb: 50_000 },
    },
    totalCpuS: 5.7,
    cpuMsPerExpiry: 5.7,
    machineCores: 1.2,
    otherCores: 0.9,
  },
  projectionBacklog: { atWindowStart: 0, atEnd: 0 },
  timeline: [],
  partitions: [
    { partition: 0, owner: 'bench-timeout-1', due: 500, ended: 500, p50LateMs: 60, maxLateMs: 300 },
    { partition: 1, owner: 'bench-timeout-2', due: 500, ended: 500, p50LateMs: 61, maxLateMs: 290 },
  ],
  cpuTimeline: [],
  serviceProblems: { 'timeout-1': { 'warn: expiry failed; will retry': 3 } },
  warnings: ["other load on the machine: 0.9 cores busy outside the server's processes"],
};

describe('renderSummary', () => {
  it('shows only the scenarios that ran, and the expiry paragraph', () => {
    const report: Report = {
      startedAt: '2026-01-01T00:00:00Z',
      machine: { cpus: 2, node: 'v24', platform: 'linux' },
      options: {},
      servers: [{ name: 'holdfast', expiry }],
      ratios: computeRatios([], []),
    };
    const text = renderSummary(report, [], ['expiry']);
    expect(text).not.toContain('Throughput');
    expect(text).not.toContain('Ratios');
    expect(text).toContain('1000 hibernating sessions, written straight into the session log');
    expect(text).toContain('p50 60 ms, p99 140 ms, max 300 ms');
    expect(text).toContain('0 early, 0 missing');
    expect(text).toContain('MET');
    expect(text).toContain(
      'fired first at p50 50 / p99 100 ms after the deadline (1002 sm.terminate requests, 2 sessions asked again; replies 1000 terminated, 2 stale, 0 unanswered',
    );
    expect(text).toContain('CPU seconds gateway 4.2, timeout-1 0.5, ferretdb 1.0');
    expect(text).toContain('timeout-1 78.1 → 79.1 MiB');
    expect(text).toContain('30 offline');
    expect(text).toContain('timeout-1 3× warn: expiry failed; will retry');
    expect(text).toContain('between 100% and 100% of the sessions ended (2 of 2 partitions complete)');
    expect(text).toContain('No peer comparison');
    expect(text).toContain('holdfast: expiry: other load on the machine');
  });

  it('shows each server, failures and the ratios', () => {
    const report: Report = {
      startedAt: '2026-01-01T00:00:00Z',
      machine: { cpus: 2, node: 'v24', platform: 'linux' },
      options: {},
      servers,
      ratios: computeRatios(servers, [100]),
    };
    const text = renderSummary(report, [100]);
    expect(text).toContain('error: SM enable refused');
    expect(text).toContain('12000 msg/s');
    expect(text).toContain('CPU: clients 30%/35% of a core');
    expect(text).toContain('100: 1.00/2.00 | 2.00/4.00 (n=20)');
    expect(text).toContain('throughput no SM   /ejabberd 0.50   /prosody 1.20');
    expect(text).toContain('40.0 kB/session');
  });
});
