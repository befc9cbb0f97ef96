import { SERVER_NAMES, type ServerName } from './servers/target.js';

export type Scenario = 'throughput' | 'resume' | 'memory' | 'expiry';
export const SCENARIOS: readonly Scenario[] = ['throughput', 'resume', 'memory', 'expiry'];
/** What runs without --scenarios: the peer comparisons (expiry is Holdfast-only and takes minutes). */
export const DEFAULT_SCENARIOS: readonly Scenario[] = ['throughput', 'resume', 'memory'];

/** The benchmark's command line: `--name=value` or `--name value`, plus `--quick` and `--help`. */
export interface BenchOptions {
  readonly servers: readonly ServerName[];
  readonly scenarios: readonly Scenario[];
  readonly pairs: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly window: number;
  readonly workers: number;
  readonly sessions: number;
  readonly queuedPerSession: number;
  readonly resumeSizes: readonly number[];
  readonly resumeReps: number;
  readonly settleS: number;
  /** expiry: hibernating sessions, the seconds their deadlines are spread over, timeout processes. */
  readonly expirySessions: number;
  readonly expirySpreadS: number;
  readonly timeouts: number;
  /** Run the Holdfast gateway and timeout processes under `node --cpu-prof` (profiles in bench/results/). */
  readonly cpuProf: boolean;
  /** Holdfast without session-state (a diagnosis of what its projection costs). */
  readonly withoutSessionState: boolean;
  /** Holdfast: FerretDB and session-state run under `nice -n <this>` (0: as everything else). */
  readonly projectionNice: number;
  readonly quick: boolean;
}

export const USAGE = `usage: npm run bench -- [options]
  --servers=holdfast,prosody,ejabberd   systems to measure, in this order (default: all three)
  --scenarios=throughput,resume,memory,expiry
                     what to measure (default: throughput,resume,memory; memory and expiry run on
                     fresh instances; expiry is Holdfast-only: hibernation deadlines firing on time)
  --pairs=N          throughput: sender→receiver pairs (default 20)
  --duration=S       throughput: measured seconds (default 10), after --warmup=S (default 2)
  --window=N         throughput: unacknowledged messages in flight per pair (default 100)
  --workers=N        throughput: client processes (default: one per CPU core, at most 4)
  --sessions=M       memory: hibernated sessions (default 1000), 10 queued messages each
  --resume-sizes=0,100,1000   resume: queued messages per resume (default 0,100,1000)
  --resume-reps=N    resume: repetitions per size (default 20)
  --settle=S         memory: seconds to wait before sampling RSS (default 10)
  --expiry-sessions=N  expiry: hibernating sessions written to the session log (default 100000)
  --expiry-spread=S  expiry: seconds their deadlines are spread over (default 180)
  --timeouts=N       expiry: timeout service processes sharing the timers (default 2)
  --cpu-prof         Holdfast: run the gateway and timeout processes under node --cpu-prof
                     (profiles in bench/results/cpu-prof-<start time>/)
  --without-session-state  Holdfast: do not start session-state (diagnosis: the cost of its projection)
  --projection-nice=N  Holdfast: run FerretDB and session-state under nice -n N (1-19; default: not
                     at all), as if the database and the read model had CPU of their own
  --quick            small numbers for a smoke run (4 pairs, 3 s, 100 sessions, 3 reps;
                     expiry: 2000 sessions over 20 s)
  --help`;

export class UsageError extends Error {}

const positiveInt = (name: string, value: string, min = 1): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
};

const positiveNumber = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number, got '${value}'`);
  return n;
};

/** A `nice` increment an unprivileged user may ask for: 1-19 (0 when not given). */
const niceness = (value: string | undefined): number => {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 19)
    throw new UsageError(`--projection-nice must be an integer from 1 to 19, got '${value}'`);
  return n;
};

const BOOLEAN_FLAGS: readonly string[] = ['--quick', '--help', '--cpu-prof', '--without-session-state'];

/** Parses argv (without node and script); null for --help. */
export function parseBenchArgs(argv: readonly string[], cpuCount: number): BenchOptions | null {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      values.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (BOOLEAN_FLAGS.includes(arg)) {
      flags.add(arg.slice(2));
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      values.set(arg.slice(2), next);
      i += 1;
    }
  }
  if (flags.has('help')) return null;
  const quick = flags.has('quick');
  const take = (name: string): string | undefined => {
    const value = values.get(name);
    values.delete(name);
    return value;
  };
  const servers = (take('servers') ?? SERVER_NAMES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const server of servers) {
    if (!(SERVER_NAMES as readonly string[]).includes(server)) {
      throw new UsageError(`unknown server '${server}' (known: ${SERVER_NAMES.join(', ')})`);
    }
  }
  if (servers.length === 0) throw new UsageError('--servers names no server');
  const scenarios = (take('scenarios') ?? DEFAULT_SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const scenario of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(scenario)) {
      throw new UsageError(`unknown scenario '${scenario}' (known: ${SCENARIOS.join(', ')})`);
    }
  }
  if (scenarios.length === 0) throw new UsageError('--scenarios names no scenario');
  const int = (name: string, fallback: number, min = 1): number => {
    const value = take(name);
    return value === undefined ? fallback : positiveInt(name, value, min);
  };
  const num = (name: string, fallback: number): number => {
    const value = take(name);
    return value === undefined ? fallback : positiveNumber(name, value);
  };
  const sizesText = take('resume-sizes');
  const resumeSizes =
    sizesText === undefined
      ? [0, 100, 1000]
      : sizesText.split(',').map((s) => positiveInt('resume-sizes', s.trim(), 0));
  const options: BenchOptions = {
    servers: [...new Set(servers)] as ServerName[],
    scenarios: SCENARIOS.filter((s) => scenarios.includes(s)),
    pairs: int('pairs', quick ? 4 : 20),
    durationS: num('duration', quick ? 3 : 10),
    warmupS: num('warmup', quick ? 1 : 2),
    window: int('window', 100),
    workers: int('workers', Math.max(1, Math.min(4, cpuCount))),
    sessions: int('sessions', quick ? 100 : 1000),
    queuedPerSession: 10,
    resumeSizes,
    resumeReps: int('resume-reps', quick ? 3 : 20),
    settleS: num('settle', quick ? 2 : 10),
    expirySessions: int('expiry-sessions', quick ? 2000 : 100_000),
    expirySpreadS: num('expiry-spread', quick ? 20 : 180),
    timeouts: int('timeouts', 2),
    cpuProf: flags.has('cpu-prof'),
    withoutSessionState: flags.has('without-session-state'),
    projectionNice: niceness(take('projection-nice')),
    quick,
  };
  const unknown = [...values.keys()];
  if (unknown.length > 0) throw new UsageError(`unknown option --${unknown.join(', --')}`);
  return options;
}
