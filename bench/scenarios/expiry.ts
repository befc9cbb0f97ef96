import { randomBytes } from 'node:crypto';

import { Bus, type BusLogger } from '@holdfast/bus';
import {
  SESSION_PARTITIONS,
  STREAMS,
  SmEnabled,
  SmHibernationStanzaQueued,
  SmHibernationStarted,
  SmTerminate,
  decodeEvent,
  partitionOf,
  type AnyEvent,
  type SmState,
} from '@holdfast/events';
import { SessionLog, hashSecret, stateWithout } from '@holdfast/session-log';
import { serialize, withDelay, xml } from '@holdfast/xmpp';
import type { JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Subscription } from '@nats-io/nats-core';

import { errorMessage, inParallel, sleep } from '../async-utils.js';
import {
  cpuBetween,
  machineCoresBetween,
  sampleMachineCpu,
  sampleTreeCpu,
  sampleTreeMemory,
  type CpuSample,
} from '../proc-stats.js';
import type { HoldfastTarget } from '../servers/holdfast.js';
import { Reservoir, round, summarize, type LatencySummary } from '../stats.js';
import {
  TARGET_P99_LATE_MS,
  deadlineOffsets,
  latenessByPartition,
  latenessFigures,
  latenessTimeline,
  meetsTarget,
  type LatenessFigures,
  type PartitionFigures,
  type TimelineBucket,
} from './expiry-figures.js';

/**
 * Scenario 4 (Holdfast only): `sessions` hibernating sessions whose deadlines are spread evenly over
 * `spreadMs` expire on time. The sessions are written straight into the session log (`sm.enabled`,
 * then `sm.hibernation_started` with the deadline, a few with queued stanzas), the way a gateway writes
 * them, rather than made by as many XMPP connections; the timeout processes pick the timers up from the
 * log, fire `sm.terminate` and the gateway ends each session. Lateness = stored time of the session's
 * `sm.session_terminated` − its deadline; cost = CPU seconds and peak RSS per process over the window.
 */
export interface ExpiryOptions {
  readonly sessions: number;
  readonly spreadMs: number;
  /** One session in `queuedEvery` gets `queuedPerSession` queued stanzas (§4 outcomes at termination). */
  readonly queuedEvery: number;
  readonly queuedPerSession: number;
  /** How long after the last deadline to wait for terminations still missing. */
  readonly tailMs: number;
  readonly tag: string;
  readonly say: (line: string) => void;
}

export interface ProcessCost {
  readonly cpuS: number;
  readonly cores: number;
  readonly peakRssKb: number;
}

export interface FiringFigures {
  /** ms from deadline to the first `sm.terminate` for the session (the timeout service's own lateness). */
  readonly firstRequestLateMs: LatencySummary | null;
  readonly requests: number;
  /** Sessions asked for more than once (a request that timed out or failed is retried later). */
  readonly sessionsAskedAgain: number;
  /** Replies by result (`terminated`, `stale`, `early`, `error`), and requests not answered by the end. */
  readonly replies: Readonly<Record<string, number>>;
  readonly unanswered: number;
  /** ms from request to reply (the gateway's service time, including its queueing). */
  readonly replyMs: LatencySummary | null;
}

export interface ExpiryResult {
  readonly method: string;
  readonly sessions: number;
  readonly withQueuedStanzas: number;
  readonly queuedStanzas: number;
  readonly spreadS: number;
  readonly timeoutProcesses: number;
  readonly load: {
    readonly events: number;
    readonly seconds: number;
    readonly eventsPerSecond: number;
    /** Seconds between the last hibernation stored and the first deadline. */
    readonly leadS: number;
    /** Hibernations stored only after their own deadline: left out of the figures. */
    readonly storedAfterDeadline: number;
  };
  /** Timer memory: RSS of the timeout processes before the load and once every timer was loaded. */
  readonly timers: {
    readonly loadedAfterS: number | null;
    readonly rssBeforeKb: Readonly<Record<string, number>>;
    readonly rssLoadedKb: Readonly<Record<string, number>>;
    readonly bytesPerTimer: number | null;
  };
  /** ms from deadline to the stored `sm.session_terminated` (primary figure). */
  readonly lateMs: LatencySummary | null;
  /** ms from deadline to the gateway's decision (the event's metadata `at`). */
  readonly decidedLateMs: LatencySummary | null;
  /**
   * The `sm.terminate` requests of the timeout processes, as the bench saw them on NATS (a plain
   * subscription next to the gateways' queue group, and the requesters' reply subjects): when each
   * session was first fired, how often it was asked, what the gateway answered and how long it took.
   */
  readonly firing: FiringFigures;
  readonly measured: number;
  readonly terminated: number;
  readonly early: number;
  readonly missing: number;
  readonly duplicates: number;
  /** Termination kinds other than `expired` (an eviction would be a bench mistake). */
  readonly otherKinds: Readonly<Record<string, number>>;
  readonly histogram: Readonly<Record<string, number>>;
  /** `sm.unacked_outcome` actions seen for the queued stanzas (spec §4). */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly target: { readonly p99LateMs: number; readonly met: boolean };
  readonly window: {
    readonly startedAt: string;
    /** From the first deadline to the end of the measurement (all ended, or the bounded wait ran out). */
    readonly measuredS: number;
  };
  readonly cost: {
    readonly byProcess: Readonly<Record<string, ProcessCost>>;
    readonly totalCpuS: number;
    readonly cpuMsPerExpiry: number | null;
    /** Busy cores of the whole machine, and those not used by the server's processes (other load). */
    readonly machineCores: number;
    readonly otherCores: number;
  };
  /** Events session-state had not projected yet, at the window start and at its end. */
  readonly projectionBacklog: { readonly atWindowStart: number; readonly atEnd: number };
  readonly timeline: readonly TimelineBucket[];
  /** Lateness per session partition and the timeout process that held it. */
  readonly partitions: readonly PartitionFigures[];
  /** CPU cores per process in each 10 s of the window. */
  readonly cpuTimeline: readonly {
    readonly fromS: number;
    readonly cores: Readonly<Record<string, number>>;
  }[];
  /** Warnings and errors the services logged during the scenario, per process and message. */
  readonly serviceProblems: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly warnings: readonly string[];
}

const PUBLISH_CONCURRENCY = 256;
const DOMAIN = 'localhost';
const HIBERNATION_TIME_S = 600;
const BUCKET_MS = 10_000;
const TERMINATED = `hf.session.*.*.f.state.sm.session_terminated`;
const OUTCOME = `hf.session.*.*.sm.unacked_outcome`;
const TIMER_FILTER = /^hf\.session\.\d+\.\*\.f\.state\.>$/;

const silent: BusLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const sessionId = (tag: string, i: number): string => `${tag}-${i.toString(36).padStart(5, '0')}`;
const jidOf = (tag: string, i: number): string => `${tag}-u${i}@${DOMAIN}/expiry`;

/** Index of a session of this run from its id, or -1. */
function indexOf(tag: string, session: string): number {
  if (!session.startsWith(`${tag}-`)) return -1;
  const index = Number.parseInt(session.slice(tag.length + 1), 36);
  return Number.isInteger(index) ? index : -1;
}

export async function runExpiry(target: HoldfastTarget, options: ExpiryOptions): Promise<ExpiryResult> {
  const { say, tag } = options;
  const n = options.sessions;
  const warnings: string[] = [];
  const bus = await Bus.connect({
    url: target.natsUrl,
    name: 'bench/expiry',
    node: 'bench-expiry',
    logger: silent,
  });
  try {
    const problemsBefore = target.problems();
    const owners = await waitForBalancedLeases(bus, target.timeoutNodes, warnings);
    const rssBefore = timeoutRss(target);

    const deadlines = new Float64Array(n);
    const storedAt = new Float64Array(n).fill(Number.NaN);
    const decidedAt = new Float64Array(n).fill(Number.NaN);
    const excluded = new Uint8Array(n);
    const otherKinds: Record<string, number> = {};
    const outcomes: Record<string, number> = {};
    let duplicates = 0;
    let terminated = 0;
    let lastEnded = 0;
    let undecodable = 0;

    // Every termination and §4 outcome of the run, read as they are stored.
    const consumer = await bus.js.consumers.get(STREAMS.session.name, {
      filter_subjects: [TERMINATED, OUTCOME],
    });
    const messages = await consumer.consume();
    const reading = (async () => {
      for await (const message of messages) {
        let event: AnyEvent;
        try {
          event = decodeEvent(message.data);
        } catch {
          undecodable += 1;
          continue;
        }
        if (event.type === 'sm.unacked_outcome') {
          if (indexOf(tag, event.data.session) !== -1) {
            outcomes[event.data.action] = (outcomes[event.data.action] ?? 0) + 1;
          }
          continue;
        }
        if (event.type !== 'sm.session_terminated') continue;
        const index = indexOf(tag, event.data.session);
        if (index < 0 || index >= n) continue;
        if (event.data.kind !== 'expired')
          otherKinds[event.data.kind] = (otherKinds[event.data.kind] ?? 0) + 1;
        if (!Number.isNaN(storedAt[index] ?? Number.NaN)) {
          duplicates += 1;
          continue;
        }
        const stored = Number(message.timestampNanos / 1000n) / 1000;
        storedAt[index] = stored;
        decidedAt[index] = Date.parse(event.metadata.at);
        terminated += 1;
        lastEnded = Math.max(lastEnded, stored);
      }
    })();
    reading.catch(() => undefined);
    const firing = watchFiring(bus, tag, n);

    // Load, phase 1: every session enabled (ACTIVE, resumable), as a gateway's <enable/> writes it.
    const log = new SessionLog(bus);
    const fences = new Float64Array(n);
    const states: SmState[] = new Array<SmState>(n);
    const loadStarted = performance.now();
    say(
      `expiry: writing ${n} sessions straight into the session log (sm.enabled, then sm.hibernation_started)`,
    );
    await inParallel(range(n), PUBLISH_CONCURRENCY, async (i) => {
      const session = sessionId(tag, i);
      const state: SmState = {
        version: 1,
        status: 'ACTIVE',
        jid: jidOf(tag, i),
        resumable: true,
        secretHash: hashSecret(randomBytes(16).toString('base64url')),
        max: HIBERNATION_TIME_S,
        owner: target.gatewayNode,
        enabledAt: new Date().toISOString(),
        h: 0,
        acked: 0,
        ackedThrough: 0,
        writtenThrough: 0,
      };
      const published = await log.publishFenced(
        SmEnabled,
        {
          id: `${session}.enabled`,
          data: { session, jid: state.jid, resumable: true, max: state.max, state },
        },
        0,
      );
      fences[i] = published.seq;
      states[i] = state;
    });
    const enablePhaseMs = performance.now() - loadStarted;

    // Phase 2 in deadline order, so a slow load only ever shortens the lead of the latest deadlines. The
    // window starts after the predicted end of this phase (it publishes as many events, plus the queued
    // stanzas) and 10 s of margin.
    const queuedSessions = Math.floor((n + options.queuedEvery - 1) / options.queuedEvery);
    const phaseEvents = n + queuedSessions * options.queuedPerSession;
    const leadMs = Math.ceil(1.5 * enablePhaseMs * (phaseEvents / n)) + 10_000;
    const windowStart = Date.now() + leadMs;
    const offsets = deadlineOffsets(n, options.spreadMs);
    for (let i = 0; i < n; i++) deadlines[i] = windowStart + (offsets[i] ?? 0);
    let storedAfterDeadline = 0;
    await inParallel(range(n), PUBLISH_CONCURRENCY, async (i) => {
      const session = sessionId(tag, i);
      const enabled = states[i] as SmState;
      const deadline = deadlines[i] ?? 0;
      const now = new Date();
      const state: SmState = {
        ...stateWithout(enabled, 'owner'),
        status: 'HIBERNATING',
        max: Math.max(enabled.max, Math.ceil((deadline - now.getTime()) / 1000)),
        hibernatedAt: now.toISOString(),
        deadline: new Date(deadline).toISOString(),
      };
      let fence = (
        await log.publishFenced(
          SmHibernationStarted,
          {
            id: `${session}.hibernated.1`,
            at: now,
            data: { session, jid: state.jid, deadline: state.deadline ?? '', queued: 0, state },
          },
          fences[i] ?? 0,
        )
      ).seq;
      if (Date.now() >= deadline) {
        excluded[i] = 1;
        storedAfterDeadline += 1;
      }
      if (i % options.queuedEvery !== 0) return;
      for (let k = 1; k <= options.queuedPerSession; k++) {
        const message = xml(
          'message',
          { from: `${tag}-sender@${DOMAIN}/bench`, to: state.jid, type: 'chat', id: `${session}-m${k}` },
          xml('body', {}, `queued ${k} for an expiring session`),
        );
        fence = (
          await log.publishFenced(
            SmHibernationStanzaQueued,
            {
              id: `${session}.q.${k}`,
              data: {
                session,
                jid: state.jid,
                stanza: serialize(withDelay(message, `${tag}-u${i}@${DOMAIN}`, new Date())),
                queueLength: k,
              },
            },
            fence,
          )
        ).seq;
      }
    });
    const loadEnded = Date.now();
    const loadMs = performance.now() - loadStarted;
    const events = 2 * n + queuedSessions * options.queuedPerSession;
    say(
      `expiry: ${events} events in ${(loadMs / 1000).toFixed(1)} s; first deadline in ${((windowStart - loadEnded) / 1000).toFixed(1)} s`,
    );
    if (storedAfterDeadline > 0) {
      warnings.push(
        `${storedAfterDeadline} hibernations were stored after their deadline (load too slow): left out`,
      );
    }

    // Every timer loaded (the timeout processes' consumers have nothing pending), then their RSS.
    let loadedAfterS: number | null = null;
    while (Date.now() < windowStart - 1000) {
      const backlog = await consumerBacklog(bus.jsm);
      if (backlog.timerPartitions >= SESSION_PARTITIONS && backlog.timers === 0) {
        loadedAfterS = round((Date.now() - loadEnded) / 1000, 1);
        break;
      }
      await sleep(200);
    }
    if (loadedAfterS === null) {
      const backlog = await consumerBacklog(bus.jsm);
      warnings.push(
        `the timers were not all loaded before the first deadline (timers of ${backlog.timerPartitions} partitions read, ${backlog.timers} events pending)`,
      );
    }
    const rssLoaded = timeoutRss(target);
    const grownKb = Object.entries(rssLoaded).reduce(
      (sum, [name, kb]) => sum + kb - (rssBefore[name] ?? 0),
      0,
    );

    // The window: CPU from the first deadline to the end of the measurement, RSS peaks sampled each second.
    await sleep(Math.max(0, windowStart - Date.now()));
    const projectionAtStart = (await consumerBacklog(bus.jsm)).projection;
    const cpuStart = sampleTreeCpu(target.processes());
    const machineStart = sampleMachineCpu();
    const peakRss = new Map<string, number>();
    const cpuTimeline: { fromS: number; cores: Record<string, number> }[] = [];
    let bucketStart: CpuSample = cpuStart;
    let nextBucket = windowStart + BUCKET_MS;
    const sampleRss = (): void => {
      for (const p of sampleTreeMemory(target.processes()).processes) {
        peakRss.set(p.name, Math.max(peakRss.get(p.name) ?? 0, p.rssKb));
      }
    };
    const lastDeadline = windowStart + options.spreadMs;
    const giveUpAt = lastDeadline + options.tailMs;
    say(
      `expiry: window of ${options.spreadMs / 1000} s started; waiting for ${n - storedAfterDeadline} terminations`,
    );
    sampleRss();
    while (terminated < n && Date.now() < giveUpAt) {
      await sleep(Math.min(1000, Math.max(50, giveUpAt - Date.now())));
      sampleRss();
      if (Date.now() >= nextBucket) {
        const sample = sampleTreeCpu(target.processes());
        cpuTimeline.push({
          fromS: (nextBucket - windowStart - BUCKET_MS) / 1000,
          cores: cpuBetween(bucketStart, sample).byProcess,
        });
        bucketStart = sample;
        nextBucket += BUCKET_MS;
      }
    }
    const cpuEnd = sampleTreeCpu(target.processes());
    const machineEnd = sampleMachineCpu();
    const measuredS = (Date.now() - windowStart) / 1000;
    // §4 outcomes are published after the termination they follow.
    await sleep(2000);
    const projectionAtEnd = (await consumerBacklog(bus.jsm)).projection;
    const fired = firing.stop();
    const firstRequestLate = new Float64Array(n).fill(Number.NaN);
    for (let i = 0; i < n; i++) firstRequestLate[i] = (fired.firstAt[i] ?? Number.NaN) - (deadlines[i] ?? 0);
    await messages.close();
    await reading.catch((error: unknown) => {
      warnings.push(`termination reader: ${errorMessage(error)}`);
    });

    const byProcess: Record<string, ProcessCost> = {};
    let totalCpuS = 0;
    for (const [name, used] of cpuEnd.byName) {
      const cpuS = Math.max(0, used - (cpuStart.byName.get(name) ?? 0));
      totalCpuS += cpuS;
      byProcess[name] = {
        cpuS: round(cpuS, 2) ?? 0,
        cores: round(cpuS / measuredS, 3) ?? 0,
        peakRssKb: peakRss.get(name) ?? 0,
      };
    }
    const machineCores = machineCoresBetween(machineStart, machineEnd);
    const otherCores = round(Math.max(0, machineCores - totalCpuS / measuredS), 3) ?? 0;
    if (otherCores > 0.2) {
      warnings.push(`other load on the machine: ${otherCores} cores busy outside the server's processes`);
    }
    const figures: LatenessFigures = latenessFigures(deadlines, storedAt, excluded);
    const decided = latenessFigures(deadlines, decidedAt, excluded);
    if (Object.keys(otherKinds).length > 0) {
      warnings.push(`sessions ended otherwise than expired: ${JSON.stringify(otherKinds)}`);
    }
    if (lastEnded === 0) warnings.push('no termination seen');
    if (undecodable > 0) warnings.push(`${undecodable} undecodable events skipped`);
    return {
      method:
        'hibernating sessions written straight into the session log (sm.enabled + sm.hibernation_started via Bus.publish, fenced like a gateway writes them), not made by XMPP connections; synthetic users without accounts or registry records (never available: their end announces nothing and reads no roster)',
      sessions: n,
      withQueuedStanzas: queuedSessions,
      queuedStanzas: queuedSessions * options.queuedPerSession,
      spreadS: options.spreadMs / 1000,
      timeoutProcesses: target.timeoutNodes.length,
      load: {
        events,
        seconds: round(loadMs / 1000, 1) ?? 0,
        eventsPerSecond: Math.round(events / (loadMs / 1000)),
        leadS: round((windowStart - loadEnded) / 1000, 1) ?? 0,
        storedAfterDeadline,
      },
      timers: {
        loadedAfterS,
        rssBeforeKb: rssBefore,
        rssLoadedKb: rssLoaded,
        bytesPerTimer: round((grownKb * 1024) / n, 0),
      },
      lateMs: roundSummary(figures.lateMs),
      decidedLateMs: roundSummary(decided.lateMs),
      firing: {
        firstRequestLateMs: roundSummary(
          summarize(firstRequestLate.filter((ms, i) => !Number.isNaN(ms) && excluded[i] !== 1)),
        ),
        requests: fired.requests,
        sessionsAskedAgain: fired.askedAgain,
        replies: fired.replies,
        unanswered: fired.unanswered,
        replyMs: roundSummary(summarize(fired.replyMs)),
      },
      measured: figures.measured,
      terminated,
      early: figures.early,
      missing: figures.missing,
      duplicates,
      otherKinds,
      histogram: figures.histogram,
      outcomes,
      target: { p99LateMs: TARGET_P99_LATE_MS, met: meetsTarget(figures) },
      window: { startedAt: new Date(windowStart).toISOString(), measuredS: round(measuredS, 1) ?? 0 },
      cost: {
        byProcess,
        totalCpuS: round(totalCpuS, 2) ?? 0,
        cpuMsPerExpiry: terminated === 0 ? null : round((totalCpuS * 1000) / terminated, 3),
        machineCores,
        otherCores,
      },
      projectionBacklog: { atWindowStart: projectionAtStart, atEnd: projectionAtEnd },
      timeline: latenessTimeline(deadlines, storedAt, windowStart, BUCKET_MS, excluded),
      partitions: latenessByPartition(deadlines, storedAt, partitionsOf(tag, n), owners, excluded),
      cpuTimeline,
      serviceProblems: problemsSince(problemsBefore, target.problems()),
      warnings,
    };
  } finally {
    await bus.drain().catch(() => undefined);
  }
}

/**
 * Watches the `sm.terminate` requests of this run's sessions: a plain subscription gets a copy of each
 * (the gateways answer in a queue group), and the requesters' reply subjects (`_INBOX.<id>.<token>`)
 * are subscribed per requester connection to see the answers.
 */
function watchFiring(
  bus: Bus,
  tag: string,
  n: number,
): {
  stop(): {
    firstAt: Float64Array;
    requests: number;
    askedAgain: number;
    replies: Record<string, number>;
    unanswered: number;
    replyMs: readonly number[];
  };
} {
  const firstAt = new Float64Array(n).fill(Number.NaN);
  const asked = new Uint16Array(n);
  const pending = new Map<string, number>();
  const replies: Record<string, number> = {};
  const replyMs = new Reservoir(200_000);
  const inboxes = new Map<string, Subscription>();
  let requests = 0;
  const requestSubscription = bus.nc.subscribe(SmTerminate.subject, {
    callback: (error, msg) => {
      if (error !== null) return;
      const now = Date.now();
      let session: string;
      try {
        session = (JSON.parse(new TextDecoder().decode(msg.data)) as { session?: string }).session ?? '';
      } catch {
        return;
      }
      const index = indexOf(tag, session);
      if (index < 0 || index >= n) return;
      requests += 1;
      asked[index] = (asked[index] ?? 0) + 1;
      if (Number.isNaN(firstAt[index] ?? Number.NaN)) firstAt[index] = now;
      const reply = msg.reply;
      if (reply === undefined) return;
      pending.set(reply, now);
      const prefix = reply.slice(0, reply.lastIndexOf('.'));
      if (inboxes.has(prefix)) return;
      inboxes.set(
        prefix,
        bus.nc.subscribe(`${prefix}.*`, {
          callback: (replyError, answer) => {
            if (replyError !== null) return;
            const sentAt = pending.get(answer.subject);
            if (sentAt === undefined) return;
            pending.delete(answer.subject);
            replyMs.add(Date.now() - sentAt);
            let result = 'error';
            if (
              answer.headers?.get('Nats-Service-Error-Code') === undefined ||
              answer.headers.get('Nats-Service-Error-Code') === ''
            ) {
              try {
                result =
                  (JSON.parse(new TextDecoder().decode(answer.data)) as { result?: string }).result ??
                  'error';
              } catch {
                result = 'error';
              }
            }
            replies[result] = (replies[result] ?? 0) + 1;
          },
        }),
      );
    },
  });
  return {
    stop: () => {
      requestSubscription.unsubscribe();
      for (const subscription of inboxes.values()) subscription.unsubscribe();
      let askedAgain = 0;
      for (const count of asked) if (count > 1) askedAgain += 1;
      return { firstAt, requests, askedAgain, replies, unanswered: pending.size, replyMs: replyMs.values() };
    },
  };
}

function problemsSince(
  before: Record<string, Record<string, number>>,
  now: Record<string, Record<string, number>>,
): Record<string, Record<string, number>> {
  const since: Record<string, Record<string, number>> = {};
  for (const [name, counts] of Object.entries(now)) {
    for (const [message, count] of Object.entries(counts)) {
      const added = count - (before[name]?.[message] ?? 0);
      if (added > 0) (since[name] ??= {})[message] = added;
    }
  }
  return since;
}

function partitionsOf(tag: string, n: number): Uint8Array {
  const partitions = new Uint8Array(n);
  for (let i = 0; i < n; i++) partitions[i] = partitionOf(sessionId(tag, i));
  return partitions;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function roundSummary(summary: LatencySummary | null): LatencySummary | null {
  if (summary === null) return null;
  const r = (v: number): number => round(v, 1) ?? Number.NaN;
  return {
    count: summary.count,
    p50: r(summary.p50),
    p90: r(summary.p90),
    p99: r(summary.p99),
    max: r(summary.max),
    mean: r(summary.mean),
  };
}

/** RSS of each timeout process tree (`timeout-1/node`…), kB. */
function timeoutRss(target: HoldfastTarget): Record<string, number> {
  const rss: Record<string, number> = {};
  for (const p of sampleTreeMemory(target.processes()).processes) {
    if (p.name.startsWith('timeout-')) rss[p.name] = (rss[p.name] ?? 0) + p.rssKb;
  }
  return rss;
}

/**
 * Waits (up to 30 s) until the timeout processes share every partition evenly: a second instance only
 * gets its share after the first gives the excess back on its next lease round.
 */
async function waitForBalancedLeases(
  bus: Bus,
  nodes: readonly string[],
  warnings: string[],
): Promise<Map<number, string>> {
  if (nodes.length === 0) throw new Error('the expiry scenario needs at least one timeout process');
  const kv = await new Kvm(bus.js).open('HF_TIMEOUT_LEASES');
  const share = Math.floor(SESSION_PARTITIONS / nodes.length);
  const deadline = Date.now() + 30_000;
  let held = new Map<string, number>();
  const owners = new Map<number, string>();
  while (Date.now() < deadline) {
    held = new Map();
    owners.clear();
    const now = Date.now();
    for (let partition = 0; partition < SESSION_PARTITIONS; partition++) {
      const entry = await kv.get(`p.${partition}`);
      if (entry?.operation !== 'PUT') continue;
      const record = JSON.parse(entry.string()) as { owner?: string; until?: number };
      if (typeof record.owner === 'string' && (record.until ?? 0) > now) {
        held.set(record.owner, (held.get(record.owner) ?? 0) + 1);
        owners.set(partition, record.owner);
      }
    }
    const total = [...held.values()].reduce((sum, count) => sum + count, 0);
    if (total === SESSION_PARTITIONS && nodes.every((node) => (held.get(node) ?? 0) >= share)) return owners;
    await sleep(250);
  }
  warnings.push(`timer partitions not evenly shared after 30 s: ${JSON.stringify(Object.fromEntries(held))}`);
  return owners;
}

/**
 * Messages not yet delivered to the timeout processes' consumers (one ordered consumer per held
 * partition, filter `hf.session.<p>.*.f.state.>`; a partition given back leaves a closed consumer that
 * lingers until the server drops it, so per partition the least behind counts), and not yet projected
 * by session-state's durable consumers (`session-state-p<p>`, pending plus unacknowledged).
 */
async function consumerBacklog(
  jsm: JetStreamManager,
): Promise<{ timers: number; timerPartitions: number; projection: number }> {
  const timerPending = new Map<string, number>();
  let projection = 0;
  for await (const info of jsm.consumers.list(STREAMS.session.name)) {
    // The server may report a single filter in either field.
    const filters = [...(info.config.filter_subjects ?? []), info.config.filter_subject ?? ''];
    const timerFilter = filters.find((filter) => TIMER_FILTER.test(filter));
    if (timerFilter !== undefined) {
      timerPending.set(timerFilter, Math.min(timerPending.get(timerFilter) ?? Infinity, info.num_pending));
    } else if (info.config.durable_name?.startsWith('session-state-p') === true) {
      projection += info.num_pending + info.num_ack_pending;
    }
  }
  const timers = [...timerPending.values()].reduce((sum, pending) => sum + pending, 0);
  return { timers, timerPartitions: timerPending.size, projection };
}
