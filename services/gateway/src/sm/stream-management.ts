import { randomBytes } from 'node:crypto';

import { ConcurrencyConflictError, NoRespondersError, type Bus } from '@holdfast/bus';
import {
  SmEnabled,
  SmHibernationStarted,
  SmResumeClaim,
  SmResumeFailed,
  SmSessionTerminated,
  type ReplyOf,
  type SmState,
} from '@holdfast/events';
import {
  appendToQueue,
  bareOf,
  claimResume,
  hashSecret,
  stateWithout,
  type AppendResult,
  type SessionLog,
  type SessionSnapshot,
} from '@holdfast/session-log';
import {
  checkResumeRequest,
  decideEnable,
  enabledElement,
  failedElement,
  resumedElement,
  stampDelay,
  type SmFailed,
  type SmStreamSnapshot,
  type TerminatedKind,
} from '@holdfast/sm';
import { parseJid, serialize, type Element, type Jid } from '@holdfast/xmpp';

import { parseStanza as parseStanzaText } from '../stanza-text.js';
import {
  SmSession,
  type SmConnection,
  type SmEnd,
  type SmSessionConfig,
  type UnackedEntry,
} from './sm-session.js';

export interface StreamManagementConfig extends SmSessionConfig {
  readonly hibernationTimeS: number;
  readonly oldSessionTtlS: number;
  readonly location: string | undefined;
}

export interface StreamManagementDeps {
  readonly bus: Bus;
  readonly log: SessionLog;
  readonly node: string;
  readonly config: StreamManagementConfig;
  readonly logger: {
    info(fields: object, message: string): void;
    warn(fields: object, message: string): void;
    error(fields: object, message: string): void;
  };
  readonly now: () => Date;
}

/** The stream facts `<enable/>` and `<resume/>` are checked against (spec §1.4). */
export interface SmStreamFacts {
  readonly authenticated: boolean;
  readonly bound: boolean;
  readonly smEnabled: boolean;
}

export type EnableOutcome =
  | { readonly kind: 'failed'; readonly reply: Element }
  | { readonly kind: 'enabled'; readonly reply: Element; readonly sm: SmSession };

export type ResumeOutcome =
  | {
      readonly kind: 'failed';
      readonly reply: Element;
      /** §7.3: the session was past its deadline; the gateway expires this version (no h-record kept). */
      readonly expire?: { readonly session: string; readonly version: number };
    }
  | {
      readonly kind: 'resumed';
      readonly reply: Element;
      readonly sm: SmSession;
      readonly jid: Jid;
      /** T12: the gateway whose connection still held the session, to be kicked. */
      readonly previousOwner: string | undefined;
    };

export interface TerminateGuard {
  /** The stanza whose arrival ended the session (T11b): §4 decides it last. */
  readonly extra?: Element;
  /** End only this version, and only while it hibernates (a timer's or a limit's decision). */
  readonly version?: number;
  /** False: keep no h-record (§7.3: the resume that found the deadline passed reported `h`). */
  readonly keepRecord?: boolean;
  /** Only finish a committed termination (its unlogged §4 outcomes); never end a live session. */
  readonly finishOnly?: boolean;
}

/** A termination from the log: done (with the stanzas for §4), nothing to do, or not due yet. */
export type FromLog =
  | {
      readonly kind: 'terminated';
      readonly jid: string;
      /** The stanzas for §4 in queue order (place = index + 1). */
      readonly stanzas: readonly Element[];
      /** Places whose outcome is already logged (a termination finished after a crash). */
      readonly settled: ReadonlySet<number>;
    }
  | { readonly kind: 'stale' }
  | { readonly kind: 'early'; readonly deadline: string };

const STALE: FromLog = { kind: 'stale' };

/** How an attached session ended, for the gateway's unbind. */
export type Detached =
  /** T5/T13: hibernating; the resource stays bound and available. */
  | { readonly kind: 'hibernated' }
  /** Terminated: unacked stanzas for spec §4 (stamped copies, in queue order). */
  | { readonly kind: 'terminated'; readonly stanzas: readonly Element[] }
  /** The session lives on elsewhere (T12): nothing to clean up but the connection. */
  | { readonly kind: 'moved' };

const CLAIM_TIMEOUT_MS = 5000;

/**
 * The gateway's side of stream management (spec §1-§2): `<enable/>` (T1), `<resume/>` (T3/T8/T12),
 * and what happens to a session when its connection ends (T4-T6, T13, T15). The durable half is the
 * session's log (`@holdfast/session-log`); resume claims go to session-state (or, with none running,
 * are committed here by the same function).
 */
export class StreamManagement {
  constructor(private readonly deps: StreamManagementDeps) {}

  private snapshot(facts: SmStreamFacts): SmStreamSnapshot {
    return {
      ...facts,
      s2s: false,
      enabledS2s: false,
      hibernationTimeS: this.deps.config.hibernationTimeS,
    };
  }

  /** T1/T2: validate, register the session durably, then answer `<enabled/>`. */
  async enable(
    facts: SmStreamFacts,
    element: Element,
    session: string,
    jid: Jid,
    connection: SmConnection,
    onEnd: (end: SmEnd) => void,
  ): Promise<EnableOutcome> {
    const decision = decideEnable(this.snapshot(facts), element.attrs, {
      location: this.deps.config.location,
    });
    if (decision.kind === 'failed') return { kind: 'failed', reply: failedElement(decision) };
    const secret = decision.resumable ? randomBytes(16).toString('base64url') : undefined;
    const state: SmState = {
      version: 1,
      status: 'ACTIVE',
      jid: jid.toString(),
      resumable: decision.resumable,
      ...(secret === undefined ? {} : { secretHash: hashSecret(secret) }),
      max: decision.resumable ? decision.max : 0,
      owner: this.deps.node,
      enabledAt: this.deps.now().toISOString(),
      h: 0,
      acked: 0,
      ackedThrough: 0,
      writtenThrough: 0,
    };
    let fence: number;
    try {
      const published = await this.deps.log.publishFenced(
        SmEnabled,
        {
          id: `${session}.enabled`,
          data: { session, jid: state.jid, resumable: state.resumable, max: state.max, state },
        },
        0,
      );
      fence = published.seq;
    } catch (error) {
      this.deps.logger.error({ session, err: error }, 'enabling stream management failed');
      return { kind: 'failed', reply: failedElement({ condition: 'internal-server-error' }) };
    }
    const sm = new SmSession(session, state, fence, connection, this.sessionDeps(), onEnd);
    const reply = decision.resumable
      ? enabledElement({
          resumable: true,
          id: `${session}.${secret ?? ''}`,
          max: decision.max,
          location: decision.location,
        })
      : enabledElement({ resumable: false, location: decision.location });
    return { kind: 'enabled', reply, sm };
  }

  /** §2.3: check the stream, claim the session (compare-and-set on its log), adopt it. */
  async resume(
    facts: SmStreamFacts,
    element: Element,
    account: string,
    connection: SmConnection,
    onEnd: (end: SmEnd) => void,
  ): Promise<ResumeOutcome> {
    const checked = checkResumeRequest(this.snapshot(facts), element.attrs);
    if (checked.kind === 'failed') return this.resumeFailed(account, checked);
    const parsed = parsePrevid(checked.previd);
    if (parsed === undefined) {
      return this.resumeFailed(account, { kind: 'failed', condition: 'item-not-found' });
    }
    const { session, secret } = parsed;
    let reply: ReplyOf<typeof SmResumeClaim>;
    const request = { session, bareJid: account, secret, h: checked.h, gateway: this.deps.node };
    try {
      try {
        reply = await this.deps.bus.request(SmResumeClaim, request, { timeoutMs: CLAIM_TIMEOUT_MS });
      } catch (error) {
        // No session-state running: the claim is the same compare-and-set on the log, committed here.
        if (!(error instanceof NoRespondersError)) throw error;
        reply = await claimResume(this.deps.log, request, {
          now: this.deps.now,
          oldSessionTtlS: this.deps.config.oldSessionTtlS,
        });
      }
    } catch (error) {
      this.deps.logger.error({ session, err: error }, 'resume claim failed');
      return this.resumeFailed(account, { kind: 'failed', condition: 'internal-server-error' });
    }
    if (!reply.ok) {
      const failed = this.resumeFailed(account, {
        kind: 'failed',
        condition: reply.condition,
        ...(reply.h === undefined ? {} : { h: reply.h }),
      });
      return reply.expire === undefined ? failed : { ...failed, expire: { session, version: reply.expire } };
    }
    let entries;
    try {
      entries = await this.deps.log.entries(session, reply.state.ackedThrough + 1);
    } catch (error) {
      // Claimed but its queue unreadable: hand the session back to hibernation, resumable again.
      this.deps.logger.error({ session, err: error }, 'queue unreadable after a resume claim');
      await this.releaseClaim(session, reply.state, reply.fence).catch((release: unknown) => {
        this.deps.logger.error(
          { session, err: release },
          'claim not released; the next resume takes it over',
        );
      });
      return this.resumeFailed(account, { kind: 'failed', condition: 'internal-server-error' });
    }
    const sm = new SmSession(
      session,
      reply.state,
      reply.fence,
      connection,
      this.sessionDeps(),
      onEnd,
      entries,
    );
    return {
      kind: 'resumed',
      reply: resumedElement(checked.previd, reply.state.h),
      sm,
      jid: parseJid(reply.state.jid),
      previousOwner: reply.previousOwner === this.deps.node ? undefined : reply.previousOwner,
    };
  }

  private async releaseClaim(session: string, claimed: SmState, fence: number): Promise<void> {
    const now = this.deps.now();
    const state: SmState = {
      ...stateWithout(claimed, 'owner'),
      status: 'HIBERNATING',
      hibernatedAt: now.toISOString(),
      deadline: new Date(now.getTime() + claimed.max * 1000).toISOString(),
    };
    await this.deps.log.publishFenced(
      SmHibernationStarted,
      {
        id: `${session}.hibernated.${claimed.version}`,
        at: now,
        data: { session, jid: claimed.jid, deadline: state.deadline ?? '', queued: 0, state },
      },
      fence,
    );
  }

  private resumeFailed(account: string, failed: SmFailed): ResumeOutcome & { kind: 'failed' } {
    // Metric event; never the SM-ID (spec §6).
    this.deps.bus
      .publish(SmResumeFailed, {
        id: `${randomBytes(12).toString('base64url')}.resume_failed`,
        data: {
          session: randomBytes(12).toString('base64url'),
          bareJid: account,
          condition: failed.condition,
        },
      })
      .catch(() => undefined);
    return { kind: 'failed', reply: failedElement(failed) };
  }

  /**
   * The connection of an attached session is gone. `resumable` transport loss and drain hibernate (T5,
   * T13); everything else terminates as closed (T4, T6) or overflow (T15); a session claimed elsewhere
   * has moved. Waits for in-flight writes first, so the state written covers everything made durable.
   */
  async detach(sm: SmSession, cause: 'transport' | 'close' | 'overflow', extra?: Element): Promise<Detached> {
    // Claimed elsewhere (T12): nothing here to wait for or to write.
    if (!sm.attached && cause !== 'overflow') return { kind: 'moved' };
    sm.detach();
    const { entries, pending } = await sm.drainForDetach();
    const now = this.deps.now();
    const fence = sm.currentFence;
    const counters = { h: sm.inboundH, acked: sm.acked, ackedThrough: sm.ackedThrough };
    const unowned = stateWithout(sm.state, 'owner');
    try {
      if (cause === 'transport' && sm.resumable) {
        const deadline = new Date(now.getTime() + sm.state.max * 1000);
        const state: SmState = {
          ...unowned,
          ...counters,
          status: 'HIBERNATING',
          hibernatedAt: now.toISOString(),
          deadline: deadline.toISOString(),
        };
        await this.deps.log.publishFenced(
          SmHibernationStarted,
          {
            id: `${sm.session}.hibernated.${sm.state.version}`,
            at: now,
            data: {
              session: sm.session,
              jid: sm.jid,
              deadline: state.deadline ?? '',
              queued: entries.length,
              state,
            },
          },
          fence,
        );
        // Accepted for the client but not yet durable when the connection went: queued now, in order.
        for (const { stanza, delivery, settle } of pending) {
          const queued = await this.queue(sm.session, sm.bareJid, stanza, now, { delivery });
          settle(queued.kind === 'queued');
        }
        return { kind: 'hibernated' };
      }
      const kind: 'overflow' | 'closed' = cause === 'overflow' ? 'overflow' : 'closed';
      const state: SmState = {
        ...unowned,
        ...counters,
        status: 'TERMINATED',
        terminatedKind: kind,
        recordKept: kind === 'overflow',
      };
      await this.deps.log.publishFenced(
        SmSessionTerminated,
        {
          id: `${sm.session}.terminated.${sm.state.version}`,
          at: now,
          data: { session: sm.session, jid: sm.jid, kind, h: counters.h, unacked: entries.length, state },
        },
        fence,
      );
      for (const entry of pending) entry.settle(true);
      return {
        kind: 'terminated',
        stanzas: stanzasOf(
          entries,
          pending.map((entry) => entry.stanza),
          extra,
          sm.bareJid,
          now,
        ),
      };
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) return { kind: 'moved' };
      throw error;
    }
  }

  /**
   * Terminates a session that has no connection (T9 expired, T10 closed, T11 evicted, T11b overflow)
   * from its log, fenced on the state it read; returns the stanzas for §4 (its queue, plus `extra`).
   * `version` guards a termination decided elsewhere (a timer, a limit): only that version, still
   * HIBERNATING, is ended (§7.16); `expired` never fires before the deadline it finds.
   */
  async terminateFromLog(
    session: string,
    kind: TerminatedKind,
    guard: TerminateGuard = {},
  ): Promise<FromLog> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const snapshot = await this.deps.log.snapshot(session);
      const found = snapshot?.record.state;
      if (snapshot === undefined || found === undefined) return STALE;
      if (found.status === 'TERMINATED') return this.unfinished(snapshot, kind, guard);
      if (guard.finishOnly === true) return STALE;
      if (
        guard.version !== undefined &&
        (found.version !== guard.version || found.status !== 'HIBERNATING')
      ) {
        return STALE;
      }
      const now = this.deps.now();
      if (kind === 'expired' && found.deadline !== undefined && Date.parse(found.deadline) > now.getTime()) {
        return { kind: 'early', deadline: found.deadline };
      }
      const rest = stateWithout(found, 'owner', 'hibernatedAt', 'deadline');
      const state: SmState = {
        ...rest,
        status: 'TERMINATED',
        terminatedKind: kind,
        // §5: expired, evicted and overflow keep h for one `<failed h/>`; closed revokes.
        recordKept: kind !== 'closed' && guard.keepRecord !== false,
        h: snapshot.h,
        acked: snapshot.acked,
        ackedThrough: snapshot.ackedThrough,
      };
      // A hibernating session's queue grows only under the fence (`f.queue`; no connection writes
      // `o.queue`), so a first attempt fenced on the whole lane leaves nothing queued since the snapshot
      // to read. Otherwise, and should stanzas keep arriving, the commit is fenced on the state alone (a
      // busy queue cannot hold it off) and what was queued meanwhile is read after it.
      const wholeLane = attempt === 0 && found.status === 'HIBERNATING';
      let committed: number;
      try {
        committed = (
          await this.deps.log.publishFenced(
            SmSessionTerminated,
            {
              id: `${session}.terminated.${state.version}.${snapshot.fence}`,
              at: now,
              data: { session, jid: state.jid, kind, h: snapshot.h, unacked: snapshot.entries.length, state },
            },
            wholeLane ? snapshot.fence : snapshot.record.seq,
            wholeLane ? 'f' : 'f.state',
          )
        ).seq;
      } catch (error) {
        if (error instanceof ConcurrencyConflictError) continue;
        throw error;
      }
      const seen = snapshot.entries.at(-1)?.seq ?? snapshot.ackedThrough;
      const late = wholeLane
        ? []
        : (await this.deps.log.entries(session, seen + 1)).filter((entry) => entry.seq < committed);
      const bare = bareOf(state.jid);
      const { extra } = guard;
      return {
        kind: 'terminated',
        jid: state.jid,
        settled: new Set(),
        stanzas: [
          ...[...snapshot.entries, ...late].map((entry) => parseStanzaText(entry.stanza)),
          ...(extra === undefined ? [] : [stampDelay(extra, bare, now)]),
        ],
      };
    }
    throw new Error(`session ${session} is too contended to terminate`);
  }

  /**
   * A termination asked for again (a timer or limit retried after the gateway carrying it out died) that
   * is already committed: its §4 outcomes are carried out for the stanzas that have none logged yet, so
   * each queued stanza ends with exactly one outcome event.
   */
  private async unfinished(
    snapshot: SessionSnapshot,
    kind: TerminatedKind,
    guard: TerminateGuard,
  ): Promise<FromLog> {
    const { state, seq } = snapshot.record;
    if (guard.version === undefined || state.version !== guard.version || state.terminatedKind !== kind) {
      return STALE;
    }
    const entries = (await this.deps.log.entries(snapshot.session, state.ackedThrough + 1)).filter(
      (entry) => entry.seq < seq,
    );
    const settled = await this.deps.log.settledOutcomes(snapshot.session);
    if (entries.every((_, index) => settled.has(index + 1))) return STALE;
    return {
      kind: 'terminated',
      jid: state.jid,
      settled,
      stanzas: entries.map((entry) => parseStanzaText(entry.stanza)),
    };
  }

  /** Spec §4 R7a: the session issued a MAM query (final once its termination is committed). */
  mamQueried(session: string): Promise<boolean> {
    return this.deps.log.mamQueried(session);
  }

  /** T7: a stanza for a session without a connection goes to its durable queue. */
  async queue(
    session: string,
    bareJid: string,
    stanza: Element,
    now: Date,
    how: { readonly delivery?: string | undefined; readonly unreachableOwner?: string | undefined } = {},
  ): Promise<AppendResult> {
    const append = (): Promise<AppendResult> =>
      appendToQueue(this.deps.log, {
        session,
        stanza: serialize(stampDelay(stanza, bareJid, now)),
        maxQueueSize: this.deps.config.maxQueueSize,
        ...(how.unreachableOwner === undefined ? {} : { unreachableOwner: how.unreachableOwner }),
        ...(how.delivery === undefined ? {} : { id: how.delivery }),
      });
    // One append at a time per session from this gateway: in order, and without racing each other for
    // the fence (a burst of concurrent appends would mostly lose their compare-and-set).
    const previous = this.appending.get(session) ?? Promise.resolve();
    const result = previous.then(append, append);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.appending.set(session, tail);
    void tail.then(() => {
      if (this.appending.get(session) === tail) this.appending.delete(session);
    });
    return result;
  }

  private readonly appending = new Map<string, Promise<void>>();

  private sessionDeps(): ConstructorParameters<typeof SmSession>[4] {
    return {
      log: this.deps.log,
      node: this.deps.node,
      config: this.deps.config,
      logger: this.deps.logger,
      now: this.deps.now,
    };
  }
}

function stanzasOf(
  entries: readonly UnackedEntry[],
  pending: readonly Element[],
  extra: Element | undefined,
  bareJid: string,
  now: Date,
): Element[] {
  const stamped = (stanza: Element): Element => stampDelay(stanza, bareJid, now);
  return [
    ...entries.map((entry) => parseStanzaText(entry.stanza)),
    ...pending.map(stamped),
    ...(extra === undefined ? [] : [stamped(extra)]),
  ];
}

/** An SM-ID is `<session>.<secret>` (§1.2: opaque to the client); undefined when it cannot be one of ours. */
export function parsePrevid(previd: string): { session: string; secret: string } | undefined {
  const dot = previd.indexOf('.');
  const session = dot < 0 ? '' : previd.slice(0, dot);
  const secret = dot < 0 ? '' : previd.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(session) || secret === '' || secret.length > 128) return undefined;
  return { session, secret };
}
