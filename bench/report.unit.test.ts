import { describe, expect, it } from 'vitest';

import { computeRatios, renderSummary, type Report, type ServerReport } from './report.js';
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

describe('renderSummary', () => {
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
