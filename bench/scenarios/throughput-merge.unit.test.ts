import { describe, expect, it } from 'vitest';

import { mergeWorkerResults, withCpuAccounting } from './throughput-merge.js';
import type { WorkerResult } from './throughput-protocol.js';

const worker = (overrides: Partial<WorkerResult>): WorkerResult => ({
  type: 'result',
  delivered: 0,
  sent: 0,
  latencies: new Float64Array(),
  latencyCount: 0,
  bounced: 0,
  cpuMs: 0,
  wallMs: 10_000,
  undelivered: 0,
  ...overrides,
});

const run = { sm: true, pairs: 4, window: 100, durationMs: 10_000 };

describe('mergeWorkerResults', () => {
  it('adds deliveries, divides by the window and merges latencies', () => {
    const result = mergeWorkerResults(
      [
        worker({
          delivered: 30_000,
          sent: 30_100,
          latencies: Float64Array.from([1, 2, 3]),
          latencyCount: 3,
          cpuMs: 2000,
        }),
        worker({
          delivered: 20_000,
          sent: 20_000,
          latencies: Float64Array.from([4, 5]),
          latencyCount: 2,
          cpuMs: 5000,
        }),
      ],
      run,
    );
    expect(result.messagesPerSecond).toBe(5000);
    expect(result.delivered).toBe(50_000);
    expect(result.latencyMs).toMatchObject({ count: 5, p50: 3, max: 5 });
    expect(result.clientCpu).toEqual({ workers: 2, perWorkerCore: [0.2, 0.5], totalCores: 0.7 });
    expect(result.warnings).toEqual([]);
  });

  it('warns when a client worker is near a full core, or nothing arrived', () => {
    const result = mergeWorkerResults([worker({ cpuMs: 8000 })], run);
    expect(result.warnings).toHaveLength(2);
    expect(result.warnings[0]).toContain('80% of a core');
    expect(result.latencyMs).toBeNull();
  });

  it('weights sampled latencies by how many each worker measured', () => {
    const result = mergeWorkerResults(
      [
        worker({ latencies: Float64Array.from([1, 1]), latencyCount: 2 }),
        worker({ latencies: Float64Array.from([9, 9]), latencyCount: 6 }),
      ],
      run,
    );
    expect(result.latencyMs?.count).toBe(8);
    expect(result.latencyMs?.p50).toBe(9);
  });
});

describe('withCpuAccounting', () => {
  it('adds server and machine CPU and warns about other load', () => {
    const base = mergeWorkerResults([worker({ delivered: 10, cpuMs: 3000 })], run);
    const quiet = withCpuAccounting(base, { total: 1.2, byProcess: { 'prosody/lua5.4': 1.2 } }, 1.55);
    expect(quiet.machineCpu).toEqual({ busyCores: 1.55, otherCores: 0.05 });
    expect(quiet.warnings).toEqual([]);
    const busy = withCpuAccounting(base, { total: 0.5, byProcess: {} }, 1.9);
    expect(busy.machineCpu?.otherCores).toBe(1.1);
    expect(busy.warnings[0]).toContain('other processes kept 1.10 cores busy');
  });
});
