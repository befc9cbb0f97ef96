import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { sleep, withTimeout } from '../async-utils.js';
import { cpuBetween, machineCoresBetween, sampleMachineCpu, sampleTreeCpu } from '../proc-stats.js';
import { track, untrack } from '../servers/processes.js';
import type { BenchUser, Target } from '../servers/target.js';
import { mergeWorkerResults, withCpuAccounting, type ThroughputResult } from './throughput-merge.js';
import type { FromWorker, PairSpec, ToWorker, WorkerResult } from './throughput-protocol.js';

/**
 * Scenario 1: `pairs` sender → receiver pairs, spread over `workers` client processes, each sender
 * keeping at most `window` messages in flight; warmup, then a measured window. With `sm`, every stream
 * enables XEP-0198 with resumption, answers the server's `<r/>` and requests acks every 250 ms.
 */
export interface ThroughputOptions {
  readonly pairs: number;
  readonly workers: number;
  readonly window: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly sm: boolean;
  readonly tag: string;
}

const WORKER_FILE = fileURLToPath(new URL('./throughput-worker.js', import.meta.url));

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly result: Promise<WorkerResult>;
}

function startWorker(config: ToWorker): Worker {
  const child = fork(WORKER_FILE, [], {
    serialization: 'advanced',
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (child.pid !== undefined) track(child.pid, false);
  let onReady: () => void = () => undefined;
  let onResult: (result: WorkerResult) => void = () => undefined;
  let onError: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    onError = reject;
  });
  const result = new Promise<WorkerResult>((resolve, reject) => {
    onResult = resolve;
    const previous = onError;
    onError = (error) => {
      previous(error);
      reject(error);
    };
  });
  // Both promises may be rejected before anyone awaits them.
  ready.catch(() => undefined);
  result.catch(() => undefined);
  child.on('message', (message: FromWorker) => {
    if (message.type === 'ready') onReady();
    else if (message.type === 'result') onResult(message);
    else onError(new Error(`client worker: ${message.message}`));
  });
  child.once('exit', (code) => {
    if (child.pid !== undefined) untrack(child.pid);
    onError(new Error(`client worker exited (code ${String(code)})`));
  });
  child.send(config);
  return { child, ready, result };
}

export async function runThroughput(
  target: Target,
  users: readonly BenchUser[],
  options: ThroughputOptions,
): Promise<ThroughputResult> {
  if (users.length < options.pairs * 2)
    throw new Error(`need ${options.pairs * 2} users, have ${users.length}`);
  const pairs: PairSpec[] = Array.from({ length: options.pairs }, (_, i) => ({
    sender: users[2 * i] as BenchUser,
    receiver: users[2 * i + 1] as BenchUser,
  }));
  const workerCount = Math.max(1, Math.min(options.workers, pairs.length));
  const setupMs = 30_000 + options.pairs * 1000;
  const runMs = options.warmupMs + options.durationMs + 30_000;
  const workers = Array.from({ length: workerCount }, (_, w) =>
    startWorker({
      type: 'config',
      host: target.host,
      port: target.port,
      domain: target.domain,
      pairs: pairs.filter((_, i) => i % workerCount === w),
      tag: `${options.tag}-w${w}`,
      sm: options.sm,
      window: options.window,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      hardLimitMs: setupMs + runMs + 10_000,
    }),
  );
  try {
    await withTimeout(Promise.all(workers.map((w) => w.ready)), setupMs, 'client login');
    for (const worker of workers) worker.child.send({ type: 'start' } satisfies ToWorker);
    const all = Promise.all(workers.map((w) => w.result));
    all.catch(() => undefined);
    // The workers' windows start after their warmup; the server's CPU is sampled over the same window.
    await sleep(options.warmupMs);
    const cpuStart = sampleTreeCpu(target.processes());
    const machineStart = sampleMachineCpu();
    await sleep(options.durationMs);
    const cpuEnd = sampleTreeCpu(target.processes());
    const machineEnd = sampleMachineCpu();
    const results = await withTimeout(all, runMs, 'throughput run');
    const merged = mergeWorkerResults(results, {
      sm: options.sm,
      pairs: options.pairs,
      window: options.window,
      durationMs: options.durationMs,
    });
    return withCpuAccounting(
      merged,
      cpuBetween(cpuStart, cpuEnd),
      machineCoresBetween(machineStart, machineEnd),
    );
  } finally {
    for (const worker of workers) {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    }
  }
}
