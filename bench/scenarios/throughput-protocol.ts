/** Messages between the throughput orchestrator and its client worker processes (IPC, advanced serialization). */
export interface PairSpec {
  readonly sender: { readonly name: string; readonly password: string };
  readonly receiver: { readonly name: string; readonly password: string };
}

export interface WorkerConfig {
  readonly type: 'config';
  readonly host: string;
  readonly port: number;
  readonly domain: string;
  readonly pairs: readonly PairSpec[];
  /** Resource suffix so runs never collide with sessions of earlier runs. */
  readonly tag: string;
  readonly sm: boolean;
  readonly window: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** The worker exits on its own after this long, whatever happens. */
  readonly hardLimitMs: number;
}

export interface WorkerStart {
  readonly type: 'start';
}

export type ToWorker = WorkerConfig | WorkerStart;

export interface WorkerReady {
  readonly type: 'ready';
}

export interface WorkerResult {
  readonly type: 'result';
  /** Messages received inside the measured window. */
  readonly delivered: number;
  /** Messages sent inside the measured window. */
  readonly sent: number;
  /** One-way latencies (ms) of messages received inside the window (a uniform sample when many). */
  readonly latencies: Float64Array;
  readonly latencyCount: number;
  /** Error stanzas received (bounces). */
  readonly bounced: number;
  /** Client process CPU (user + system) over the window, in ms, and the window's wall time. */
  readonly cpuMs: number;
  readonly wallMs: number;
  /** Messages still unanswered when the run ended (after the drain). */
  readonly undelivered: number;
}

export interface WorkerFailure {
  readonly type: 'error';
  readonly message: string;
}

export type FromWorker = WorkerReady | WorkerResult | WorkerFailure;
