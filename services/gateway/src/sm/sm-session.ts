import { ConcurrencyConflictError, type Published } from '@holdfast/bus';
import {
  SmAckDelayed,
  SmAcked,
  SmMamQueried,
  StanzaReceived,
  StanzaSent,
  type SmState,
} from '@holdfast/events';
import type { QueueEntry, SessionLog } from '@holdfast/session-log';
import {
  ackDelayDueAt,
  ackElement,
  afterAck,
  afterClientRequest,
  afterFlush,
  handledCountTooHighError,
  handledCountTooLowError,
  increment,
  initialAckPolicyState,
  onCsiActive,
  onCsiInactive,
  onReadTimeout,
  onResumed,
  onTimer,
  parseH,
  readTimeoutDueAt,
  requestElement,
  stampDelay,
  unacked,
  type AckPolicyConfig,
  type AckPolicyState,
  type AckPolicyStep,
} from '@holdfast/sm';
import { StreamError, serialize, type Element } from '@holdfast/xmpp';

import { parseStanza } from '../stanza-text.js';

/** What a session needs from the connection it is attached to. */
export interface SmConnection {
  /** Writes an element to the transport as it is (the stream is bound and open). */
  write(element: Element): void;
  /** Ends the stream with a stream error; `final <a/>` has been written by then (spec §1.5). */
  fail(error: StreamError, detached: boolean): void;
  /** Drops the transport without closing the stream: transport loss (T5/T6). */
  drop(): void;
}

export interface SmSessionConfig extends AckPolicyConfig {
  readonly maxQueueSize: number;
}

export interface SmSessionDeps {
  readonly log: SessionLog;
  readonly node: string;
  readonly config: SmSessionConfig;
  readonly logger: {
    warn(fields: object, message: string): void;
    error(fields: object, message: string): void;
  };
  readonly now: () => Date;
}

/** A stanza written to the client and not yet acknowledged: its queue entry in the log. */
export interface UnackedEntry {
  /** Stream sequence of its queue entry. */
  readonly seq: number;
  /** The delay-stamped copy (§2.5). */
  readonly stanza: string;
}

/**
 * A stanza accepted for the client and not yet durable. `settle(true)`: it is in the session's log now
 * (written, queued, or handed to §4); `settle(false)`: it never got there (the session moved).
 */
export interface PendingStanza {
  readonly stanza: Element;
  /** Its delivery id, if routed: the `Nats-Msg-Id` of its queue entry. */
  readonly delivery: string | undefined;
  readonly settle: (durable: boolean) => void;
}

/** Why a session stopped being this connection's: the gateway decides the state transition. */
export type SmEnd =
  /** The queue cap was hit by `stanza` (T15). */
  | { readonly kind: 'overflow'; readonly stanza: Element }
  /** Another connection claimed the session (T12) or the log refuses our writes: nothing to do here. */
  | { readonly kind: 'lost' }
  /** An impossible `<a h/>` (§1.5): the stream was failed for misuse, which revokes (§7.8). */
  | { readonly kind: 'misuse' };

const PUBLISH_ATTEMPTS = 5;
const RETRY_BASE_MS = 100;

/**
 * The live half of one stream-management session (spec §1.3, §2.4-2.6) on the connection it is attached
 * to. Durable before visible: every outbound stanza is published (fenced) before it is written, a whole
 * flush at once; inbound `h` advances only when a stanza's event is durable and it has been handled.
 */
export class SmSession {
  /** Inbound `h`: stanzas read from the client, durable and handled. */
  inboundH: number;
  /** Stanzas read so far (the `h` each new one will make). */
  private readIndex: number;
  private policy: AckPolicyState;
  readonly unacked: UnackedEntry[] = [];
  /** Accepted for the client, not yet durable and written (a flush in the making). */
  private pending: PendingStanza[] = [];
  /** The flush in progress: flushes run one after another, so stanzas are written in order. */
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private ackChain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastReadMs: number;
  /** Stream sequence of the last acknowledged queue entry. */
  ackedThrough: number;
  /** False once the session is no longer this connection's (ended, or claimed elsewhere). */
  attached = true;
  /** Claimed by another connection: nothing of it is ours to write any more. */
  private lost = false;

  constructor(
    readonly session: string,
    public state: SmState,
    /** Stream sequence of our last write under the session's fence. */
    private fence: number,
    private readonly connection: SmConnection,
    private readonly deps: SmSessionDeps,
    private readonly onEnd: (end: SmEnd) => void,
    entries: readonly QueueEntry[] = [],
  ) {
    this.inboundH = state.h;
    this.ackedThrough = state.ackedThrough;
    this.readIndex = state.h;
    const sent = (state.acked + entries.length) % 2 ** 32;
    this.policy = initialAckPolicyState({ sent, acked: state.acked });
    for (const entry of entries) this.unacked.push({ seq: entry.seq, stanza: entry.stanza });
    this.lastReadMs = deps.now().getTime();
    this.schedule();
  }

  get jid(): string {
    return this.state.jid;
  }

  get bareJid(): string {
    return this.state.jid.slice(0, this.state.jid.indexOf('/'));
  }

  get resumable(): boolean {
    return this.state.resumable;
  }

  /** The server's outbound count (§1.3). */
  get sent(): number {
    return this.policy.sent;
  }

  get acked(): number {
    return this.policy.acked;
  }

  /** Current fence: for state transitions published by the gateway (hibernate, terminate). */
  get currentFence(): number {
    return this.fence;
  }

  /** §2.3 steps 7-8: after `<resumed/>`, re-send the unacked entries in order, then ask for an ack. */
  resendAfterResume(): void {
    for (const entry of this.unacked) this.connection.write(parseStanza(entry.stanza));
    this.applyPolicy(onResumed(this.policy, { nowMs: this.nowMs() }));
  }

  /** Any inbound byte: the read timeout starts again (§2.6). */
  onData(): void {
    this.lastReadMs = this.nowMs();
  }

  // ---- inbound ------------------------------------------------------------------------------------

  /** A stanza was read (in input order): the `h` it makes once counted. */
  nextH(): number {
    this.readIndex = increment(this.readIndex);
    return this.readIndex;
  }

  /**
   * Spec §1.3: a read stanza counts once it is handled (`delivered`: routed into a durable queue, stored
   * offline or answered) and then its event is durable. Calls come in input order; deliveries overlap,
   * events are published in order, and `h` advances in order. The event marks the stanza as handled,
   * so after a crash the log never counts a stanza whose delivery was not done.
   */
  handled(stanza: Element, h: number, delivered: Promise<void>): void {
    this.handoff = this.handoff.then(async () => {
      await delivered;
      if (this.countingStopped) return;
      const durable = this.publish(async () => {
        await this.deps.log.publishFenced(
          StanzaReceived,
          {
            id: `${this.session}.in.${this.state.version}.${h}`,
            data: { session: this.session, h, stanza: serialize(stanza) },
          },
          this.fence,
        );
      });
      this.counting = this.counting
        .then(() => durable)
        .then(
          () => {
            if (!this.countingStopped) this.inboundH = h;
          },
          () => {
            // Never durable: neither this stanza nor any after it may count (the connection is going).
            this.countingStopped = true;
          },
        );
    });
  }

  /** Resolves once every stanza handed to `handled` so far is counted (or can never be). */
  async counted(): Promise<void> {
    await this.handoff;
    await this.counting;
  }

  private handoff: Promise<void> = Promise.resolve();
  private counting: Promise<void> = Promise.resolve();
  private countingStopped = false;

  /** §1.2 `<r/>` from the client, answered after every earlier stanza is durable and counted (caller's order). */
  answerRequest(): void {
    this.connection.write(ackElement(this.inboundH));
    this.applyPolicy(afterClientRequest(this.policy, this.deps.config, { nowMs: this.nowMs() }));
  }

  /** §1.2 `<a h/>` from the client. */
  handleAck(element: Element): void {
    const h = parseH(element.attrs.h);
    if (h === undefined) {
      this.fail(new StreamError('invalid-xml', { text: '<a/> needs an h between 0 and 4294967295' }));
      return;
    }
    const step = afterAck(this.policy, this.deps.config, { h, nowMs: this.nowMs() });
    if (step.kind === 'violation') {
      this.fail(
        step.violation === 'too-high'
          ? handledCountTooHighError({ h, sendCount: this.policy.sent })
          : handledCountTooLowError({ h, acked: this.policy.acked }),
      );
      return;
    }
    if (step.newlyAcked > 0) {
      const done = this.unacked.splice(0, step.newlyAcked);
      this.ackedThrough = done.at(-1)?.seq ?? this.ackedThrough;
      this.ackToPublish = { acked: h, through: this.ackedThrough };
      // Acks are published in order, in the background, one at a time and only the newest: a client
      // that acks every stanza costs one publish per round trip, and a lost one only means a few
      // re-sent copies after a resume.
      if (!this.ackPublishing) {
        this.ackPublishing = true;
        this.ackChain = this.ackChain.then(() => this.publishAcks());
      }
    }
    this.applyPolicy(step);
  }

  private ackToPublish: { readonly acked: number; readonly through: number } | undefined;
  private ackPublishing = false;

  private async publishAcks(): Promise<void> {
    for (let next = this.ackToPublish; next !== undefined && this.attached; next = this.ackToPublish) {
      this.ackToPublish = undefined;
      const { acked, through } = next;
      try {
        await this.publish(() =>
          this.deps.log.publishFenced(
            SmAcked,
            {
              id: `${this.session}.ack.${this.state.version}.${through}`,
              data: { session: this.session, acked, through },
            },
            this.fence,
          ),
        );
      } catch (error) {
        this.deps.logger.warn({ session: this.session, err: error }, 'ack event not published');
      }
    }
    this.ackPublishing = false;
  }

  /**
   * Spec §4 R7a: the client issued a MAM query. Logged once per session (a resumed session may have
   * logged it on an earlier connection), fenced like every write of this connection, before the query is
   * answered: a client that saw archive results has the flag in the log, and a termination committed
   * first refuses it, so whoever decides the §4 outcomes after that commit reads a final answer.
   */
  markMamQueried(): Promise<void> {
    this.mamQueried ??= this.publish(async () => {
      if (await this.deps.log.mamQueried(this.session)) return;
      await this.deps.log.publishFenced(
        SmMamQueried,
        { id: `${this.session}.mam_queried`, data: { session: this.session, jid: this.state.jid } },
        this.fence,
      );
    }).catch((error: unknown) => {
      this.mamQueried = undefined;
      throw error;
    });
    return this.mamQueried;
  }

  private mamQueried: Promise<void> | undefined;

  private fail(error: StreamError): void {
    this.onEnd({ kind: 'misuse' });
    this.connection.fail(error, false);
  }

  // ---- outbound -----------------------------------------------------------------------------------

  /**
   * A stanza for the client: made durable with the rest of its flush, then written (§2.4). Resolves
   * true once it is durable (so a sender's `h` may count it), false if the session was not this
   * connection's any more (the caller routes it again).
   */
  send(stanza: Element, delivery?: string): Promise<boolean> {
    if (!this.attached) return Promise.resolve(false);
    if (this.overflowing) {
      // After the overflowing stanza: §4 decides these with the rest (settled at detach).
      return new Promise<boolean>((resolve) => {
        this.overflowed.push({ stanza, delivery, settle: resolve });
      });
    }
    if (this.unacked.length + this.inFlight + this.pending.length >= this.deps.config.maxQueueSize) {
      // T15: the queue is full; nothing is dropped to make room. What was accepted before this stanza
      // is written first, then the session ends and §4 decides the queue and this one.
      this.overflowing = true;
      this.flushing = this.flushing
        .then(() => this.flush())
        .then(() => {
          this.detach();
          this.onEnd({ kind: 'overflow', stanza });
          this.connection.write(ackElement(this.inboundH));
          this.connection.fail(
            new StreamError('resource-constraint', { text: 'too many unacknowledged stanzas' }),
            true,
          );
        });
      return Promise.resolve(true);
    }
    const settled = new Promise<boolean>((resolve) => {
      this.pending.push({ stanza, delivery, settle: resolve });
    });
    if (this.flushScheduled) return settled;
    this.flushScheduled = true;
    // Everything delivered in this turn of the event loop goes out as one flush.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushing = this.flushing.then(() => this.flush());
    });
    return settled;
  }

  private async flush(): Promise<void> {
    if (!this.attached) return; // Detached: the pending stanzas are queued or decided at detach.
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.inFlight = batch.length;
    try {
      await this.flushBatch(batch);
    } finally {
      this.inFlight = 0;
    }
  }

  /** Stanzas of the flush being made durable: they count toward the queue cap like the rest. */
  private inFlight = 0;
  /** T15 under way: no stanza is written any more. */
  private overflowing = false;
  private readonly overflowed: PendingStanza[] = [];

  private async flushBatch(batch: PendingStanza[]): Promise<void> {
    const at = this.deps.now();
    const first = this.policy.sent;
    const stamped = batch.map(({ stanza }) => serialize(stampDelay(stanza, this.bareJid, at)));
    let published: Published[];
    try {
      published = await this.publish(() =>
        Promise.all(
          stamped.map(async (copy, index) => {
            const seq = (first + index + 1) % 2 ** 32;
            const result = await this.deps.log.publishFenced(
              StanzaSent,
              {
                id: batch[index]?.delivery ?? `${this.session}.out.${this.state.version}.${seq}`,
                at,
                data: { session: this.session, seq, stanza: copy },
              },
              this.fence,
            );
            return result;
          }),
        ),
      );
    } catch {
      if (this.lost) {
        for (const entry of batch) entry.settle(false);
      } else {
        // The connection is being dropped: these go to the queue with the rest at detach (T5).
        this.pending = [...batch, ...this.pending];
      }
      return;
    }
    if (!this.isAttached()) {
      // Detached while publishing: durable queue entries never written. They stay in the queue, so a
      // resume re-sends them and a termination gives them to §4.
      batch.forEach(({ settle }, index) => {
        const result = published[index];
        if (result !== undefined && !this.alreadyHeld(result)) {
          this.unacked.push({ seq: result.seq, stanza: stamped[index] ?? '' });
        }
        settle(true);
      });
      return;
    }
    let written = 0;
    batch.forEach(({ stanza, settle }, index) => {
      const result = published[index];
      settle(true);
      // A delivery the log already holds (retried by a sender after the session moved here) is one
      // this connection acknowledged or re-sent already: written once, never twice.
      if (result === undefined || this.alreadyHeld(result)) return;
      this.connection.write(stanza);
      this.unacked.push({ seq: result.seq, stanza: stamped[index] ?? '' });
      written += 1;
    });
    if (written > 0) {
      this.applyPolicy(afterFlush(this.policy, this.deps.config, { flushed: written, nowMs: this.nowMs() }));
    }
  }

  private alreadyHeld(result: Published): boolean {
    return (
      result.duplicate &&
      (result.seq <= this.ackedThrough || this.unacked.some((entry) => entry.seq === result.seq))
    );
  }

  /**
   * Runs a fenced write, retrying transient failures. A fence conflict means someone wrote under the
   * session's fence: a stanza queued for us while we looked unreachable (adopt it and go on), or a
   * claim by another connection (we lost the session).
   */
  private async publish<T>(write: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (!this.attached) throw error;
        if (error instanceof ConcurrencyConflictError) {
          if (await this.refence()) continue;
          this.lose();
          throw error;
        }
        if (attempt >= PUBLISH_ATTEMPTS) {
          this.deps.logger.error(
            { session: this.session, err: error },
            'session log unwritable; dropping the connection',
          );
          this.connection.drop();
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_BASE_MS * 2 ** attempt));
      }
    }
  }

  /** After a fence conflict: true if the session is still ours (queued stanzas adopted, fence moved). */
  private async refence(): Promise<boolean> {
    const record = await this.deps.log.state(this.session);
    if (
      record === undefined ||
      record.state.status !== 'ACTIVE' ||
      record.state.version !== this.state.version ||
      record.state.owner !== this.deps.node
    ) {
      return false;
    }
    const fence = await this.deps.log.fence(this.session);
    if (fence === this.fence) return true;
    const adopted = (await this.deps.log.entries(this.session, this.fence + 1)).filter(
      (entry) => entry.kind === 'queued',
    );
    this.fence = fence;
    // Stanzas queued while we looked unreachable: written now, and already durable (no second event).
    for (const entry of adopted) {
      this.connection.write(parseStanza(entry.stanza));
      this.unacked.push({ seq: entry.seq, stanza: entry.stanza });
    }
    if (adopted.length > 0) {
      this.applyPolicy(
        afterFlush(this.policy, this.deps.config, { flushed: adopted.length, nowMs: this.nowMs() }),
      );
    }
    return true;
  }

  /** The session was claimed by another connection (T12 seen from the old side). */
  private lose(): void {
    if (!this.attached) return;
    this.lost = true;
    // Not ours to store any more: their senders route them again, to the session's new connection.
    for (const entry of this.pending) entry.settle(false);
    this.pending = [];
    this.detach();
    this.onEnd({ kind: 'lost' });
    this.connection.write(ackElement(this.inboundH));
    this.connection.fail(new StreamError('conflict', { text: 'the session was resumed elsewhere' }), true);
  }

  /** Called by the gateway when another connection resumed this session (T12): kick without touching state. */
  kickResumedElsewhere(): void {
    this.lose();
  }

  // ---- CSI, timers ---------------------------------------------------------------------------------

  csi(active: boolean): void {
    this.applyPolicy(active ? onCsiActive(this.policy, { nowMs: this.nowMs() }) : onCsiInactive(this.policy));
  }

  /** Stops timers and further writes; the session's state now belongs to whoever ends or moves it. */
  detach(): void {
    this.attached = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Waits for in-flight writes, then returns the still-unacked entries (for hibernation or §4). */
  async drainForDetach(): Promise<{
    entries: readonly UnackedEntry[];
    pending: readonly PendingStanza[];
  }> {
    // Stanzas still being delivered are not counted any more (their senders resend them after a
    // resume): waiting for their deliveries could wait for this very session's queue.
    this.countingStopped = true;
    await this.counting;
    await this.flushing;
    await this.ackChain;
    const pending = [...this.pending, ...this.overflowed.splice(0)];
    this.pending = [];
    if (this.lost) {
      for (const entry of pending) entry.settle(false);
      return { entries: [...this.unacked], pending: [] };
    }
    return { entries: [...this.unacked], pending };
  }

  private applyPolicy(step: AckPolicyStep): void {
    this.policy = step.state;
    if (step.requestAck && this.attached) this.connection.write(requestElement());
    this.schedule();
  }

  private schedule(): void {
    if (!this.attached) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const readDue = readTimeoutDueAt(this.lastReadMs, this.deps.config);
    const ackDue = ackDelayDueAt(this.policy, this.deps.config);
    const due = ackDue === undefined ? readDue : Math.min(readDue, ackDue);
    this.timer = setTimeout(
      () => {
        this.onTimer();
      },
      Math.max(10, due - this.nowMs()),
    );
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (!this.attached) return;
    const nowMs = this.nowMs();
    if (nowMs >= readTimeoutDueAt(this.lastReadMs, this.deps.config)) {
      const step = onReadTimeout(this.policy, { nowMs });
      if (step.closeTransport) {
        this.connection.drop();
        return;
      }
      this.lastReadMs = nowMs;
      this.applyPolicy(step);
      return;
    }
    const step = onTimer(this.policy, this.deps.config, { nowMs });
    if (step.ackDelayed) {
      void this.deps.log.bus
        .publish(SmAckDelayed, {
          id: `${this.session}.ack_delayed.${this.state.version}.${this.policy.sent}`,
          data: {
            session: this.session,
            jid: this.state.jid,
            unacked: unacked(step.state),
            queued: this.unacked.length + this.pending.length,
          },
        })
        .catch((error: unknown) => {
          this.deps.logger.warn({ session: this.session, err: error }, 'sm.ack_delayed not published');
        });
    }
    this.applyPolicy(step);
  }

  /** `attached` read through a call: it changes while a flush awaits (TypeScript narrows fields). */
  private isAttached(): boolean {
    return this.attached;
  }

  private nowMs(): number {
    return this.deps.now().getTime();
  }
}
