import { round, summarize, type LatencySummary } from '../stats.js';
import type { WorkerResult } from './throughput-protocol.js';

/** Combines the workers' reports of one throughput run into the published result. */
export interface ThroughputResult {
  readonly sm: boolean;
  readonly pairs: number;
  readonly window: number;
  readonly durationS: number;
  readonly messagesPerSecond: number;
  readonly delivered: number;
  readonly sent: number;
  readonly bounced: number;
  readonly undeliveredAtEnd: number;
  readonly latencyMs: LatencySummary | null;
  readonly clientCpu: {
    readonly workers: number;
    /** Each worker's CPU time over the window as a fraction of one core. */
    readonly perWorkerCore: readonly number[];
    /** All workers together, in cores. */
    readonly totalCores: number;
  };
  /** Server processes' CPU over the measured window, in cores (per process and in total). */
  readonly serverCpu?: { readonly total: number; readonly byProcess: Record<string, number> };
  /** The whole machine's busy cores over the window, and what neither the server nor the clients used. */
  readonly machineCpu?: { readonly busyCores: number; readonly otherCores: number };
  readonly warnings: readonly string[];
}

/** A worker above this fraction of one core may be the bottleneck rather than the server. */
export const CLIENT_CPU_LIMIT = 0.7;

export function mergeWorkerResults(
  results: readonly WorkerResult[],
  run: { readonly sm: boolean; readonly pairs: number; readonly window: number; readonly durationMs: number },
): ThroughputResult {
  const delivered = results.reduce((sum, r) => sum + r.delivered, 0);
  const sent = results.reduce((sum, r) => sum + r.sent, 0);
  const bounced = results.reduce((sum, r) => sum + r.bounced, 0);
  const undelivered = results.reduce((sum, r) => sum + r.undelivered, 0);
  const latencies = mergeLatencies(results);
  const wallS = Math.max(...results.map((r) => r.wallMs), 1) / 1000;
  const perWorker = results.map((r) => (r.wallMs > 0 ? r.cpuMs / r.wallMs : 0));
  const warnings: string[] = [];
  const busiest = Math.max(0, ...perWorker);
  if (busiest > CLIENT_CPU_LIMIT) {
    warnings.push(
      `a client worker used ${Math.round(busiest * 100)}% of a core (> ${CLIENT_CPU_LIMIT * 100}%): the clients may limit this result; use more --workers on a machine with more cores`,
    );
  }
  if (bounced > 0) warnings.push(`${bounced} messages bounced with an error`);
  if (delivered === 0) warnings.push('no message was delivered inside the measured window');
  return {
    sm: run.sm,
    pairs: run.pairs,
    window: run.window,
    durationS: round(wallS, 3) ?? 0,
    messagesPerSecond: round(delivered / wallS, 1) ?? 0,
    delivered,
    sent,
    bounced,
    undeliveredAtEnd: undelivered,
    latencyMs: roundSummary(summarize(latencies)),
    clientCpu: {
      workers: results.length,
      perWorkerCore: perWorker.map((f) => round(f, 3) ?? 0),
      totalCores:
        round(
          perWorker.reduce((a, b) => a + b, 0),
          3,
        ) ?? 0,
    },
    warnings,
  };
}

/**
 * Workers sample their latencies uniformly; when one worker kept only a sample, its values are weighted
 * by repeating the sample in proportion, so each worker counts as much as the messages it measured.
 */
function mergeLatencies(results: readonly WorkerResult[]): Float64Array {
  const complete = results.every((r) => r.latencies.length === r.latencyCount);
  if (complete) {
    const merged = new Float64Array(results.reduce((n, r) => n + r.latencies.length, 0));
    let offset = 0;
    for (const r of results) {
      merged.set(r.latencies, offset);
      offset += r.latencies.length;
    }
    return merged;
  }
  const values: number[] = [];
  const smallest = Math.min(
    ...results.filter((r) => r.latencyCount > 0).map((r) => r.latencyCount / Math.max(1, r.latencies.length)),
  );
  for (const r of results) {
    const weight = Math.max(1, Math.round(r.latencyCount / Math.max(1, r.latencies.length) / smallest));
    for (const value of r.latencies) for (let i = 0; i < weight; i += 1) values.push(value);
  }
  return Float64Array.from(values);
}

export function roundSummary(summary: LatencySummary | null): LatencySummary | null {
  if (summary === null) return null;
  return {
    count: summary.count,
    p50: round(summary.p50, 3) ?? 0,
    p90: round(summary.p90, 3) ?? 0,
    p99: round(summary.p99, 3) ?? 0,
    max: round(summary.max, 3) ?? 0,
    mean: round(summary.mean, 3) ?? 0,
  };
}

/** Processes other than the server and the clients using more than this many cores disturb the result. */
export const OTHER_LOAD_LIMIT = 0.2;

/** Adds the server's and the machine's CPU over the window, warning when something else was busy. */
export function withCpuAccounting(
  result: ThroughputResult,
  serverCpu: { readonly total: number; readonly byProcess: Record<string, number> },
  machineBusyCores: number,
): ThroughputResult {
  const otherCores = Math.max(
    0,
    round(machineBusyCores - serverCpu.total - result.clientCpu.totalCores, 3) ?? 0,
  );
  const warnings = [...result.warnings];
  if (otherCores > OTHER_LOAD_LIMIT) {
    warnings.push(
      `other processes kept ${otherCores.toFixed(2)} cores busy during the window: this result is disturbed`,
    );
  }
  return { ...result, serverCpu, machineCpu: { busyCores: machineBusyCores, otherCores }, warnings };
}
