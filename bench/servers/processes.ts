import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Child processes of the benchmark: each peer server runs in a process group of its own (so wrapper
 * scripts and what they start stop together), every pid is remembered, and whatever is still alive when
 * the benchmark exits — normally, on an error or on Ctrl-C — is killed.
 */
const tracked = new Map<number, { readonly group: boolean }>();

export function track(pid: number, group: boolean): void {
  tracked.set(pid, { group });
}

export function untrack(pid: number): void {
  tracked.delete(pid);
}

/** SIGKILLs every tracked process (group) still alive; synchronous, for exit handlers. */
export function killAllTracked(): void {
  for (const [pid, { group }] of tracked) {
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  tracked.clear();
}

export interface GroupProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  isRunning(): boolean;
  recentOutput(): string;
  /** SIGTERM to the whole group, SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

const KEPT_LINES = 100;

/** Starts `command` as the leader of a new process group, capturing its last output lines. */
export function spawnGroup(
  name: string,
  command: string,
  args: readonly string[],
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {},
): GroupProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  track(pid, true);
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > KEPT_LINES) lines.shift();
    });
  }
  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running = false;
      resolve(code);
    });
  });
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone
    }
  };
  return {
    name,
    pid,
    exited,
    isRunning: () => running,
    recentOutput: () => lines.join('\n'),
    stop: async (graceMs = 10_000) => {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => {
        signalGroup('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
      // Members of the group that outlive the leader (helpers the runtime forked) go too.
      signalGroup('SIGKILL');
      untrack(pid);
    },
  };
}

export interface RunResult {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a command to completion (stdout and stderr together), killing it after timeoutMs. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid === undefined) {
      reject(new Error(`could not start ${command}`));
      return;
    }
    const pid = child.pid;
    track(pid, true);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      untrack(pid);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      untrack(pid);
      if (signal === 'SIGKILL') output += `\n(killed after ${timeoutMs} ms)`;
      resolve({ code, output });
    });
  });
}
