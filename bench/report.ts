import type { Scenario } from './cli-options.js';
import type { ExpiryResult } from './scenarios/expiry.js';
import type { MemoryResult } from './scenarios/memory.js';
import type { ResumeResult, ResumeSizeResult } from './scenarios/resume.js';
import type { ThroughputResult } from './scenarios/throughput-merge.js';
import type { ServerName } from './servers/target.js';
import { ratio, round } from './stats.js';

/** The benchmark's JSON result, Holdfast/peer ratios and the human summary (pure). */
export interface Failure {
  readonly error: string;
}

export type Outcome<T> = T | Failure;

export function isFailure(value: unknown): value is Failure {
  return typeof value === 'object' && value !== null && 'error' in value;
}

export interface ServerReport {
  readonly name: ServerName;
  version?: string;
  notes?: readonly string[];
  /** 1, 5 and 15 minute load averages when the server was up, before its scenarios ran. */
  loadAverageAtStart?: readonly number[];
  /** The server could not be started (or was skipped): no scenario ran. */
  error?: string;
  throughputSm?: Outcome<ThroughputResult>;
  throughputNoSm?: Outcome<ThroughputResult>;
  resume?: Outcome<ResumeResult>;
  memory?: Outcome<MemoryResult>;
  /** Holdfast only: hibernation deadlines firing on time. */
  expiry?: Outcome<ExpiryResult>;
}

export type RatioPair = Partial<Record<'ejabberd' | 'prosody', number | null>>;

export interface Ratios {
  /** Holdfast messages/s ÷ peer messages/s (higher is better for Holdfast). */
  readonly throughputSm: RatioPair;
  readonly throughputNoSm: RatioPair;
  /** Holdfast p99 `<resume>` → last queued stanza ÷ peer's, per queue size (lower is better). */
  readonly resumeLastQueuedP99: Record<string, RatioPair>;
  /** Holdfast kB per hibernated session ÷ peer's (lower is better). */
  readonly memoryPerSession: RatioPair;
}

export interface Report {
  readonly startedAt: string;
  finishedAt?: string;
  readonly machine: { readonly cpus: number; readonly node: string; readonly platform: string };
  readonly options: unknown;
  readonly servers: ServerReport[];
  ratios?: Ratios;
}

const PEERS = ['ejabberd', 'prosody'] as const;

function ok<T>(value: Outcome<T> | undefined): T | undefined {
  return value === undefined || isFailure(value) ? undefined : value;
}

function pairRatios(
  servers: readonly ServerReport[],
  pick: (server: ServerReport) => number | null | undefined,
): RatioPair {
  const holdfast = servers.find((s) => s.name === 'holdfast');
  const result: RatioPair = {};
  for (const peer of PEERS) {
    const other = servers.find((s) => s.name === peer);
    if (holdfast === undefined || other === undefined) continue;
    result[peer] = round(ratio(pick(holdfast), pick(other)), 3);
  }
  return result;
}

function resumeSize(server: ServerReport, size: string): ResumeSizeResult | undefined {
  const entry = ok(server.resume)?.[size];
  return entry === undefined || isFailure(entry) ? undefined : entry;
}

export function computeRatios(servers: readonly ServerReport[], resumeSizes: readonly number[]): Ratios {
  const resumeLastQueuedP99: Record<string, RatioPair> = {};
  for (const size of resumeSizes.map(String)) {
    resumeLastQueuedP99[size] = pairRatios(servers, (s) => resumeSize(s, size)?.lastQueuedMs?.p99);
  }
  return {
    throughputSm: pairRatios(servers, (s) => ok(s.throughputSm)?.messagesPerSecond),
    throughputNoSm: pairRatios(servers, (s) => ok(s.throughputNoSm)?.messagesPerSecond),
    resumeLastQueuedP99,
    memoryPerSession: pairRatios(servers, (s) => ok(s.memory)?.perSessionKb),
  };
}

const pad = (text: string, width: number): string => text.padEnd(width);
const num = (value: number | null | undefined, digits = 1): string =>
  value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
const short = (error: string): string => `error: ${error.split('\n')[0]?.slice(0, 100) ?? ''}`;

function throughputLine(name: string, outcome: Outcome<ThroughputResult> | undefined): string {
  if (outcome === undefined) return `  ${pad(name, 10)} not run`;
  if (isFailure(outcome)) return `  ${pad(name, 10)} ${short(outcome.error)}`;
  const l = outcome.latencyMs;
  const cpu = outcome.clientCpu.perWorkerCore.map((f) => `${Math.round(f * 100)}%`).join('/');
  const server = outcome.serverCpu === undefined ? '' : `, server ${num(outcome.serverCpu.total, 2)} cores`;
  const other = outcome.machineCpu === undefined ? '' : `, other ${num(outcome.machineCpu.otherCores, 2)}`;
  return `  ${pad(name, 10)} ${num(outcome.messagesPerSecond, 0).padStart(8)} msg/s   latency ms p50 ${num(l?.p50, 2)}  p90 ${num(l?.p90, 2)}  p99 ${num(l?.p99, 2)}  max ${num(l?.max, 2)}   CPU: clients ${cpu} of a core${server}${other}`;
}

function ratioText(pair: RatioPair | undefined): string {
  if (pair === undefined) return '-';
  const parts = PEERS.filter((peer) => peer in pair).map((peer) => `/${peer} ${num(pair[peer], 2)}`);
  return parts.length === 0 ? '-' : parts.join('   ');
}

const load = (server: ServerReport): string =>
  server.loadAverageAtStart === undefined
    ? ''
    : `   (load average ${server.loadAverageAtStart.join(' ')} at start)`;

/** Root label of a `<root>/<command>` process name (`gateway/node` → `gateway`). */
const rootOf = (name: string): string => name.split('/')[0] ?? name;

function byRoot(values: Readonly<Record<string, number>>): Map<string, number> {
  const sums = new Map<string, number>();
  for (const [name, value] of Object.entries(values))
    sums.set(rootOf(name), (sums.get(rootOf(name)) ?? 0) + value);
  return sums;
}

const list = (values: Map<string, number>, format: (value: number) => string): string =>
  [...values].map(([name, value]) => `${name} ${format(value)}`).join(', ');

function partitionSentence(e: ExpiryResult): string {
  const shares = e.partitions.map((p) => (p.due === 0 ? 1 : p.ended / p.due));
  if (shares.length === 0) return '';
  const complete = shares.filter((share) => share === 1).length;
  const pct = (share: number): string => `${Math.floor(share * 100)}%`;
  return `Per timer partition, between ${pct(Math.min(...shares))} and ${pct(Math.max(...shares))} of the sessions ended (${complete} of ${shares.length} partitions complete).`;
}

/** The expiry scenario's one paragraph. */
export function expiryParagraph(e: ExpiryResult): string {
  const late = e.lateMs;
  const cpu = byRoot(Object.fromEntries(Object.entries(e.cost.byProcess).map(([name, c]) => [name, c.cpuS])));
  const peak = byRoot(
    Object.fromEntries(Object.entries(e.cost.byProcess).map(([name, c]) => [name, c.peakRssKb])),
  );
  const before = byRoot(e.timers.rssBeforeKb);
  const loaded = byRoot(e.timers.rssLoadedKb);
  const timerRss = [...loaded].map(
    ([name, kb]) => `${name} ${num((before.get(name) ?? 0) / 1024)} → ${num(kb / 1024)} MiB`,
  );
  const outcomes = Object.entries(e.outcomes).map(([action, count]) => `${count} ${action}`);
  const problems = Object.entries(e.serviceProblems).flatMap(([name, counts]) =>
    Object.entries(counts)
      .sort((x, y) => y[1] - x[1])
      .slice(0, 3)
      .map(([message, count]) => `${name} ${count}× ${message}`),
  );
  const sentences = [
    `${e.sessions} hibernating sessions, written straight into the session log rather than made by ${e.sessions} XMPP connections` +
      ` (${e.withQueuedStanzas} of them with ${e.queuedStanzas} queued stanzas in all), had deadlines spread evenly over ${num(e.spreadS, 0)} s,` +
      ` fired by ${e.timeoutProcesses} timeout process(es) and ended by one gateway (load: ${e.load.events} events in ${num(e.load.seconds)} s, first deadline ${num(e.load.leadS)} s after it).`,
    `Lateness from deadline to the stored sm.session_terminated: p50 ${num(late?.p50, 0)} ms, p99 ${num(late?.p99, 0)} ms, max ${num(late?.max, 0)} ms` +
      ` over ${late?.count ?? 0} of ${e.measured} measured sessions; ${e.early} early, ${e.missing} missing after ${num(e.window.measuredS, 0)} s` +
      ` — target p99 ≤ ${e.target.p99LateMs} ms and none early ${e.target.met ? 'MET' : 'MISSED'}` +
      ` (decided by the gateway: p50 ${num(e.decidedLateMs?.p50, 0)} / p99 ${num(e.decidedLateMs?.p99, 0)} ms).`,
    `The timeout processes fired first at p50 ${num(e.firing.firstRequestLateMs?.p50, 0)} / p99 ${num(e.firing.firstRequestLateMs?.p99, 0)} ms after the deadline` +
      ` (${e.firing.requests} sm.terminate requests, ${e.firing.sessionsAskedAgain} sessions asked again; replies ${Object.entries(
        e.firing.replies,
      )
        .map(([result, count]) => `${count} ${result}`)
        .join(
          ', ',
        )}, ${e.firing.unanswered} unanswered; reply time p50 ${num(e.firing.replyMs?.p50, 0)} / p99 ${num(e.firing.replyMs?.p99, 0)} ms).`,
    partitionSentence(e),
    `Cost over the window: CPU seconds ${list(cpu, (v) => num(v, 1))} (total ${num(e.cost.totalCpuS, 1)} s, ${num(e.cost.cpuMsPerExpiry, 2)} ms per expiry; other load ${num(e.cost.otherCores, 2)} cores);` +
      ` peak RSS MiB ${list(peak, (v) => num(v / 1024, 0))}.`,
    `Timers: RSS of ${timerRss.join(', ')} with every timer loaded (${num(e.timers.bytesPerTimer, 0)} bytes per timer)` +
      `${e.timers.loadedAfterS === null ? '' : `, loaded ${num(e.timers.loadedAfterS)} s after the last write`}.`,
    `§4 outcomes of the queued stanzas: ${outcomes.length === 0 ? 'none seen' : outcomes.join(', ')}; session-state projection backlog ${e.projectionBacklog.atWindowStart} events at the window start, ${e.projectionBacklog.atEnd} at its end.`,
    problems.length === 0
      ? 'The services logged no warning or error.'
      : `The services logged: ${problems.join('; ')}.`,
    'No peer comparison: Prosody and ejabberd are not measured for this scenario.',
  ];
  return sentences.filter((sentence) => sentence !== '').join(' ');
}

/** The human summary printed after the JSON; only the sections of the scenarios that ran. */
export function renderSummary(
  report: Report,
  resumeSizes: readonly number[],
  scenarios: readonly Scenario[] = ['throughput', 'resume', 'memory'],
): string {
  const lines: string[] = [];
  const servers = report.servers;
  lines.push(`XEP-0198 benchmark, ${report.machine.cpus} CPU(s), ${report.machine.node}, loopback`);
  for (const server of servers) {
    lines.push(
      `  ${pad(server.name, 10)} ${server.error === undefined ? (server.version ?? '') : short(server.error)}${load(server)}`,
    );
  }
  if (scenarios.includes('throughput')) throughputSection(lines, servers);
  if (scenarios.includes('resume')) resumeSection(lines, servers, resumeSizes);
  if (scenarios.includes('memory')) memorySection(lines, servers);
  if (scenarios.includes('expiry')) expirySection(lines, servers);
  const r = report.ratios;
  const compared = scenarios.some((s) => s !== 'expiry');
  if (compared && r !== undefined && servers.some((s) => s.name === 'holdfast')) {
    lines.push('', 'Ratios Holdfast/peer:');
    lines.push(`  throughput SM      ${ratioText(r.throughputSm)}   (higher is better)`);
    lines.push(`  throughput no SM   ${ratioText(r.throughputNoSm)}`);
    for (const size of resumeSizes) {
      lines.push(
        `  resume→last p99 @${String(size).padEnd(5)} ${ratioText(r.resumeLastQueuedP99[String(size)])}   (lower is better)`,
      );
    }
    lines.push(`  memory/session     ${ratioText(r.memoryPerSession)}   (lower is better)`);
  }
  const warnings = servers.flatMap((s) =>
    [ok(s.throughputSm), ok(s.throughputNoSm)].flatMap((t) =>
      t === undefined ? [] : t.warnings.map((w) => `${s.name}: ${w}`),
    ),
  );
  for (const s of servers) {
    const m = ok(s.memory);
    if (m?.warning !== undefined) warnings.push(`${s.name}: memory: ${m.warning}`);
    for (const w of ok(s.expiry)?.warnings ?? []) warnings.push(`${s.name}: expiry: ${w}`);
  }
  if (warnings.length > 0) lines.push('', 'Warnings:', ...warnings.map((w) => `  ${w}`));
  return lines.join('\n');
}

function expirySection(lines: string[], servers: readonly ServerReport[]): void {
  lines.push('', 'Hibernation expiry (Holdfast only):');
  for (const s of servers) {
    if (s.error !== undefined || s.expiry === undefined) continue;
    lines.push(
      isFailure(s.expiry)
        ? `  ${pad(s.name, 10)} ${short(s.expiry.error)}`
        : `  ${expiryParagraph(s.expiry)}`,
    );
  }
}

function throughputSection(lines: string[], servers: readonly ServerReport[]): void {
  lines.push('', 'Throughput with SM (resumable streams, acks answered):');
  for (const s of servers) if (s.error === undefined) lines.push(throughputLine(s.name, s.throughputSm));
  lines.push('Throughput without SM (plain messages):');
  for (const s of servers) if (s.error === undefined) lines.push(throughputLine(s.name, s.throughputNoSm));
}

function resumeSection(
  lines: string[],
  servers: readonly ServerReport[],
  resumeSizes: readonly number[],
): void {
  lines.push('', 'Resume (ms from <resume> to <resumed/> | to the last queued message), p50 / p99:');
  for (const s of servers) {
    if (s.error !== undefined) continue;
    if (s.resume === undefined) {
      lines.push(`  ${pad(s.name, 10)} not run`);
      continue;
    }
    if (isFailure(s.resume)) {
      lines.push(`  ${pad(s.name, 10)} ${short(s.resume.error)}`);
      continue;
    }
    const cells = resumeSizes.map((size) => {
      const entry = s.resume !== undefined && !isFailure(s.resume) ? s.resume[String(size)] : undefined;
      if (entry === undefined) return `${size}: -`;
      if (isFailure(entry)) return `${size}: ${short(entry.error)}`;
      return `${size}: ${num(entry.resumedMs?.p50, 2)}/${num(entry.resumedMs?.p99, 2)} | ${num(entry.lastQueuedMs?.p50, 2)}/${num(entry.lastQueuedMs?.p99, 2)} (n=${entry.reps})`;
    });
    lines.push(`  ${pad(s.name, 10)} ${cells.join('    ')}`);
  }
}

function memorySection(lines: string[], servers: readonly ServerReport[]): void {
  lines.push(
    '',
    'Memory per hibernated session (10 queued messages each), summed RSS of all server processes:',
  );
  for (const s of servers) {
    if (s.error !== undefined) continue;
    const m = s.memory;
    if (m === undefined) lines.push(`  ${pad(s.name, 10)} not run`);
    else if (isFailure(m)) lines.push(`  ${pad(s.name, 10)} ${short(m.error)}`);
    else {
      lines.push(
        `  ${pad(s.name, 10)} ${num(m.perSessionKb, 1)} kB/session  (${m.sessions} sessions; ${num(m.beforeKb / 1024, 1)} → ${num(m.afterKb / 1024, 1)} MiB)`,
      );
    }
  }
}
