import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';

import { repoRoot } from '@holdfast/localinfra';

import { errorMessage, withTimeout } from './async-utils.js';
import { parseBenchArgs, USAGE, UsageError, type BenchOptions, type Scenario } from './cli-options.js';
import { computeRatios, renderSummary, type Outcome, type Report, type ServerReport } from './report.js';
import { runExpiry } from './scenarios/expiry.js';
import { runMemory } from './scenarios/memory.js';
import { runResume } from './scenarios/resume.js';
import { runThroughput } from './scenarios/throughput.js';
import { startEjabberd } from './servers/ejabberd.js';
import { startHoldfast, type HoldfastOptions } from './servers/holdfast.js';
import { killAllTracked } from './servers/processes.js';
import { startProsody } from './servers/prosody.js';
import { benchUsers, type BenchUser, type ServerName, type Target } from './servers/target.js';

/**
 * `npm run bench`: XEP-0198 benchmarks of Holdfast, Prosody and ejabberd in one run on loopback. Each
 * server is started on free ports with fresh data, measured (throughput with and without SM, resume
 * latency, memory per hibernated session; on Holdfast alone, hibernation deadlines expiring on time),
 * and stopped; JSON goes to stdout and bench/results/, then a summary. Every phase has a timeout;
 * children are killed on exit and on Ctrl-C.
 */
const DOMAIN = 'localhost';
const SESSIONS_PER_USER = 10;
/** Wall time one resume queue size may take (repetitions stop early after 3 when it is spent). */
const RESUME_BUDGET_PER_SIZE_MS = 150_000;
/** expiry: one session in this many has queued stanzas, this many each; the wait after the last deadline. */
const EXPIRY_QUEUED_EVERY = 100;
const EXPIRY_QUEUED_PER_SESSION = 3;
const EXPIRY_TAIL_MS = 30_000;

const say = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

let holdfastOptions: HoldfastOptions = {};

const starters: Record<
  ServerName,
  (users: readonly BenchUser[], domain: string, say: (line: string) => void) => Promise<Target>
> = {
  holdfast: (users, domain, say) => startHoldfast(users, domain, say, holdfastOptions),
  prosody: startProsody,
  ejabberd: startEjabberd,
};

let current: Target | undefined;

async function phase<T>(
  server: ServerName,
  name: string,
  timeoutMs: number,
  run: () => Promise<T>,
): Promise<Outcome<T>> {
  say(`${server}: ${name}`);
  const started = performance.now();
  try {
    const result = await withTimeout(run(), timeoutMs, name);
    say(`${server}: ${name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return result;
  } catch (error) {
    say(`${server}: ${name} failed: ${errorMessage(error)}`);
    return { error: errorMessage(error) };
  }
}

/** Starts a fresh instance of `name`, runs `scenarios` on it and stops it; a start failure is returned. */
async function withInstance<T extends Target>(
  name: ServerName,
  start: () => Promise<T>,
  report: ServerReport,
  scenarios: (target: T) => Promise<void>,
): Promise<string | undefined> {
  say(`${name}: starting a fresh instance`);
  let target: T;
  try {
    target = await withTimeout(start(), 15 * 60_000, `${name} start`);
  } catch (error) {
    say(`${name}: not measured: ${errorMessage(error)}`);
    return errorMessage(error);
  }
  current = target;
  report.loadAverageAtStart ??= loadavg().map((l) => Math.round(l * 100) / 100);
  report.version = target.version;
  report.notes = target.notes;
  say(`${name} ${target.version} listening on ${target.host}:${target.port}`);
  try {
    await scenarios(target);
  } finally {
    say(`${name}: stopping`);
    await withTimeout(target.stop(), 60_000, `${name} stop`).catch((error: unknown) => {
      say(`${name}: stop: ${errorMessage(error)}`);
    });
    current = undefined;
  }
  return undefined;
}

/**
 * Throughput and resume run on one instance; memory on a fresh one, so that its baseline is an idle
 * server rather than one full of the previous scenarios' garbage (which the peers' and Node's collectors
 * return at their own pace).
 */
async function benchServer(
  name: ServerName,
  options: BenchOptions,
  users: readonly BenchUser[],
): Promise<ServerReport> {
  const report: ServerReport = { name };
  const wants = (scenario: Scenario): boolean => options.scenarios.includes(scenario);
  if (wants('throughput') || wants('resume')) {
    const start = (): Promise<Target> => starters[name](users, DOMAIN, say);
    const failed = await withInstance(name, start, report, async (target) => {
      if (wants('throughput')) {
        const throughputMs = (options.warmupS + options.durationS) * 1000 + 120_000 + options.pairs * 2000;
        for (const sm of [true, false]) {
          const outcome = await phase(name, `throughput ${sm ? 'with' : 'without'} SM`, throughputMs, () =>
            runThroughput(target, users, {
              pairs: options.pairs,
              workers: options.workers,
              window: options.window,
              warmupMs: options.warmupS * 1000,
              durationMs: options.durationS * 1000,
              sm,
              tag: sm ? 'sm' : 'plain',
            }),
          );
          if (sm) report.throughputSm = outcome;
          else report.throughputNoSm = outcome;
        }
      }
      if (wants('resume')) {
        const resumeBudgetMs = RESUME_BUDGET_PER_SIZE_MS * options.resumeSizes.length + 120_000;
        report.resume = await phase(name, 'resume', resumeBudgetMs, () =>
          runResume(target, users[0] as BenchUser, users[1] as BenchUser, {
            sizes: options.resumeSizes,
            reps: options.resumeReps,
            budgetPerSizeMs: RESUME_BUDGET_PER_SIZE_MS,
            tag: 'r',
          }),
        );
      }
    });
    if (failed !== undefined) {
      report.error = failed;
      return report;
    }
  }
  if (wants('memory')) {
    const start = (): Promise<Target> => starters[name](users, DOMAIN, say);
    const failed = await withInstance(name, start, report, async (target) => {
      const hibernating = Math.ceil(options.sessions / SESSIONS_PER_USER);
      const memoryBudgetMs = 180_000 + options.sessions * 500;
      const memoryDeadline = performance.now() + memoryBudgetMs;
      report.memory = await phase(
        name,
        `memory (${options.sessions} hibernated sessions)`,
        memoryBudgetMs + 10_000,
        () =>
          runMemory(target, users.slice(0, hibernating), users[hibernating] as BenchUser, {
            deadline: memoryDeadline,
            sessions: options.sessions,
            queued: options.queuedPerSession,
            sessionsPerUser: SESSIONS_PER_USER,
            settleMs: options.settleS * 1000,
            tag: 'm',
          }),
      );
    });
    if (failed !== undefined) report.memory = { error: `start: ${failed}` };
  }
  // Holdfast only, on a fresh instance with timeout processes; no accounts (the sessions are synthetic).
  if (wants('expiry') && name === 'holdfast') {
    const start = () => startHoldfast([], DOMAIN, say, { ...holdfastOptions, timeouts: options.timeouts });
    const expiryBudgetMs =
      600_000 + options.expirySessions * 5 + options.expirySpreadS * 1000 + EXPIRY_TAIL_MS;
    const failed = await withInstance(name, start, report, async (target) => {
      report.expiry = await phase(
        name,
        `expiry (${options.expirySessions} sessions over ${options.expirySpreadS} s)`,
        expiryBudgetMs,
        () =>
          runExpiry(target, {
            sessions: options.expirySessions,
            spreadMs: options.expirySpreadS * 1000,
            queuedEvery: EXPIRY_QUEUED_EVERY,
            queuedPerSession: EXPIRY_QUEUED_PER_SESSION,
            tailMs: EXPIRY_TAIL_MS,
            tag: `x${Date.now().toString(36)}`,
            say,
          }),
      );
    });
    if (failed !== undefined) report.expiry = { error: `start: ${failed}` };
  }
  return report;
}

async function main(): Promise<number> {
  let options: BenchOptions | null;
  try {
    options = parseBenchArgs(process.argv.slice(2), availableParallelism());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (options === null) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const startedAt = new Date().toISOString();
  holdfastOptions = {
    ...(options.cpuProf
      ? {
          cpuProfDir: path.join(
            repoRoot(),
            'bench',
            'results',
            `cpu-prof-${startedAt.replace(/[:.]/g, '-')}`,
          ),
        }
      : {}),
    ...(options.withoutSessionState ? { withoutSessionState: true } : {}),
    ...(options.projectionNice > 0 ? { projectionNice: options.projectionNice } : {}),
  };
  const userCount = Math.max(options.pairs * 2, Math.ceil(options.sessions / SESSIONS_PER_USER) + 1, 2);
  const users = benchUsers(userCount);
  const report: Report = {
    startedAt,
    machine: {
      cpus: availableParallelism(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    },
    options,
    servers: [],
  };
  for (const name of options.servers) report.servers.push(await benchServer(name, options, users));
  report.finishedAt = new Date().toISOString();
  report.ratios = computeRatios(report.servers, options.resumeSizes);

  const json = JSON.stringify(report, null, 2);
  const dir = path.join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${json}\n`);
  process.stdout.write(
    `${json}\n\n${renderSummary(report, options.resumeSizes, options.scenarios)}\n\nresults: ${file}\n`,
  );
  return 0;
}

process.on('exit', killAllTracked);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    const stopping = current?.stop() ?? Promise.resolve();
    void withTimeout(stopping, 15_000, 'stop')
      .catch(() => undefined)
      .finally(() => {
        killAllTracked();
        process.exit(130);
      });
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // Sockets of failed phases may still be open; nothing else is left to wait for.
    setTimeout(() => process.exit(code), 500).unref();
  },
  (error: unknown) => {
    say(`failed: ${errorMessage(error)}`);
    killAllTracked();
    process.exit(1);
  },
);
