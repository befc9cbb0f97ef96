import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface LaunchOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Called for every output line (stdout and stderr), e.g. to forward logs. */
  readonly onLine?: (line: string) => void;
  /** Run under `nice -n <this>`: every thread of it, as the increment is set before it starts. */
  readonly nice?: number;
}

/** A child process owned by whoever launched it: it must be stopped, and its exit is observable. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** The last lines the process printed, for error messages. */
  recentOutput(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once, as a crash would. */
  kill(): Promise<void>;
}

const KEPT_LINES = 200;

export function launch(options: LaunchOptions): ManagedProcess {
  const [command, args] =
    options.nice === undefined
      ? [options.command, options.args]
      : ['nice', ['-n', String(options.nice), options.command, ...options.args]];
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);
  const pid = child.pid;
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > KEPT_LINES) lines.shift();
      options.onLine?.(line);
    });
  }
  let done = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      done = true;
      resolve(code);
    });
  });

  const signal = async (sig: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (done) return;
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };

  return {
    name: options.name,
    pid,
    exited,
    recentOutput: () => lines.join('\n'),
    stop: (graceMs = 10_000) => signal('SIGTERM', graceMs),
    kill: () => signal('SIGKILL', 0),
  };
}

/** Waits until `check` resolves true, polling every `intervalMs`; fails after `timeoutMs` or if `process` exits. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  process: ManagedProcess,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void process.exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(
        `${process.name} exited (code ${String(exitCode)}) before ${what}:\n${process.recentOutput()}`,
      );
    }
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  await process.stop();
  throw new Error(`${process.name}: no ${what} within ${timeoutMs} ms:\n${process.recentOutput()}`);
}
