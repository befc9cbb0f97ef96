import {
  type Bus,
  type DirectMessage,
  type OutgoingEvent,
  type Published,
  type StoredMessage,
} from '@holdfast/bus';
import {
  STREAMS,
  SmMamQueried,
  SmUnackedOutcome,
  decodeEvent,
  sessionLaneFilter,
  sessionQueueSubjects,
  sessionTypeFilter,
  type AnyEvent,
  type EventDefinition,
  type SmState,
} from '@holdfast/events';

const STREAM = STREAMS.session.name;
/** Direct-get batches are capped by the server; read queues in pages of this many entries. */
const PAGE = 256;
/** What the log reads of a stored event: its subject, its place in the stream and its payload. */
type StoredEvent = Pick<DirectMessage, 'subject' | 'seq' | 'data'>;

/** The last state event of a session and where the fence stood when it was read. */
export interface StateRecord {
  readonly state: SmState;
  /** For `sm.hibernation_started`: the queue length it started with. */
  readonly queued?: number;
  /** Stream sequence of the state event. */
  readonly seq: number;
  readonly at: Date;
}

/** One stanza of a session's outbound queue (spec §2.4), as the log holds it. */
export interface QueueEntry {
  /** Stream sequence: the entry's identity and its place in the queue. */
  readonly seq: number;
  /** `sent`: made durable by the connected gateway and written; `queued`: stored while hibernating. */
  readonly kind: 'sent' | 'queued';
  /** The delay-stamped copy (§2.5). */
  readonly stanza: string;
  readonly at: Date;
}

/** Everything a resume or a takeover needs to know about a session, read from its log. */
export interface SessionSnapshot {
  readonly session: string;
  readonly record: StateRecord;
  /** Stream sequence of the last event under the fence (`f.>`). */
  readonly fence: number;
  /** Inbound `h`: the latest of the state's and the last inbound event's. */
  readonly h: number;
  readonly acked: number;
  /** Stream sequence of the last queue entry the client acknowledged. */
  readonly ackedThrough: number;
  /** Unacknowledged entries after `ackedThrough`, in order. */
  readonly entries: readonly QueueEntry[];
  /** `acked` + the written (`sent`) entries: the outbound count of §1.3. */
  readonly sent: number;
}

/**
 * A stream-management session's durable log on JetStream (the `HF_SESSION` stream, lanes of
 * `sessionLaneFilter`): snapshots, queue reads, and publishes fenced on the session's `f.>` lane, so a
 * writer that lost the session (a resume claimed it elsewhere) is refused by JetStream itself.
 */
export class SessionLog {
  constructor(readonly bus: Bus) {}

  /**
   * Publishes `event` only if nothing under the session's fence changed since `fence` was read: the
   * whole fence (`f`, state and queue: what the owner of a connection writes against), or only its
   * state (`f.state`: for a transition decided from a snapshot, which queue appends must not starve;
   * entries appended meanwhile are still read after it, in stream order).
   */
  async publishFenced<Type extends string, Data extends { session: string }>(
    definition: EventDefinition<Type, Data>,
    event: OutgoingEvent<Data>,
    fence: number,
    lane: 'f' | 'f.state' = 'f',
  ): Promise<Published> {
    return this.bus.publish(definition, event, {
      expectLastSubjectSequence: fence,
      expectLastSubjectSequenceSubject: sessionLaneFilter(event.data.session, lane),
    });
  }

  /** The session's last state event, or undefined when it never enabled SM (or the log aged out). */
  async state(session: string): Promise<StateRecord | undefined> {
    const stored = await this.last(sessionLaneFilter(session, 'f.state'));
    if (stored === undefined) return undefined;
    const event = decodeEvent(stored.data);
    const state = sessionStateOf(event)?.state;
    if (state === undefined) return undefined;
    const queued = event.type === 'sm.hibernation_started' ? event.data.queued : undefined;
    // A committed claim: its new owner re-sends every entry logged before it (spec §2.3 step 7).
    if (event.type === 'sm.hibernation_ended') {
      state.writtenThrough = Math.max(state.writtenThrough, stored.seq);
    }
    return {
      state,
      seq: stored.seq,
      at: new Date(event.metadata.at),
      ...(queued === undefined ? {} : { queued }),
    };
  }

  /** Stream sequence of the last event under the session's fence (0 if none). */
  async fence(session: string): Promise<number> {
    return (await this.last(sessionLaneFilter(session, 'f')))?.seq ?? 0;
  }

  /** The full snapshot: state, fence, counters and the unacknowledged queue. */
  async snapshot(session: string): Promise<SessionSnapshot | undefined> {
    const record = await this.state(session);
    if (record === undefined) return undefined;
    // A hibernating session's queue starts after the state's own acknowledgement (no connection acks
    // more), so it is read alongside the rest. It is read again below should an `ack` say otherwise, or
    // should it have been read before the fence's own entry was stored (every entry up to the fence
    // must be in a snapshot: a commit fenced on it ends them all).
    const hibernating = record.state.status === 'HIBERNATING';
    const [fence, lastIn, lastAck, early] = await Promise.all([
      this.fence(session),
      this.last(sessionLaneFilter(session, 'in')),
      this.last(sessionLaneFilter(session, 'ack')),
      hibernating ? this.entries(session, record.state.ackedThrough + 1) : undefined,
    ]);
    let h = record.state.h;
    // The later of the two, whatever their order in the stream: a state event decided on an older
    // snapshot (a takeover while the owner still wrote) may follow `in` events it did not count.
    if (lastIn !== undefined) {
      const event = decodeEvent(lastIn.data);
      if (event.type === 'stanza.received' && event.data.h !== undefined && isLater(event.data.h, h)) {
        h = event.data.h;
      }
    }
    let acked = record.state.acked;
    let ackedThrough = record.state.ackedThrough;
    if (lastAck !== undefined && lastAck.seq > record.seq) {
      const event = decodeEvent(lastAck.data);
      if (event.type === 'sm.acked' && event.data.through !== undefined) {
        acked = event.data.acked;
        ackedThrough = event.data.through;
      }
    }
    const entries =
      early !== undefined &&
      ackedThrough === record.state.ackedThrough &&
      (fence === record.seq || early.some((entry) => entry.seq >= fence))
        ? early
        : await this.entries(session, ackedThrough + 1);
    const writtenThrough = record.state.writtenThrough;
    const written = entries.filter((entry) => entry.kind === 'sent' || entry.seq <= writtenThrough).length;
    return { session, record, fence, h, acked, ackedThrough, entries, sent: (acked + written) % 2 ** 32 };
  }

  /** Queue entries (sent and queued) of a session from stream sequence `from` on, in order. */
  async entries(session: string, from: number): Promise<QueueEntry[]> {
    // One read per queue subject, merged in stream order (why not one `*.queue` read: sessionQueueSubjects).
    const stored = (
      await Promise.all(sessionQueueSubjects(session).map((subject) => this.scan(subject, from)))
    ).flat();
    stored.sort((a, b) => a.seq - b.seq);
    return stored.flatMap((message) => entryOf(message) ?? []);
  }

  /** Queue places (`seq`) of a session whose §4 outcome is logged (`sm.unacked_outcome`). */
  async settledOutcomes(session: string): Promise<Set<number>> {
    const stored = await this.scan(sessionTypeFilter(session, SmUnackedOutcome.type), 1);
    const settled = new Set<number>();
    for (const message of stored) {
      const event = decodeEvent(message.data);
      if (event.type === 'sm.unacked_outcome' && event.data.seq !== undefined) settled.add(event.data.seq);
    }
    return settled;
  }

  /**
   * Spec §4 R7a: whether the session ever issued a MAM query (`sm.mam_queried`). Read after a termination
   * is committed, the answer is final: the flag is written fenced, so none can land after the commit.
   */
  async mamQueried(session: string): Promise<boolean> {
    return (await this.last(sessionTypeFilter(session, SmMamQueried.type))) !== undefined;
  }

  /** Every stored message matching `filter` from stream sequence `from` on, in order (paged direct gets). */
  private async scan(filter: string, from: number): Promise<StoredEvent[]> {
    const found: StoredEvent[] = [];
    let next = Math.max(1, from);
    for (let pages = 0; pages < 10_000; pages++) {
      const page = await this.bus.directBatch(STREAM, { seq: next, next_by_subj: filter, batch: PAGE });
      found.push(...page);
      const last = page.at(-1);
      if (last === undefined || page.length < PAGE) break;
      next = last.seq + 1;
    }
    return found;
  }

  /** The last event matching `filter` (a lane of `sessionLaneFilter`), read from the stream's leader. */
  async last(filter: string): Promise<StoredMessage | undefined> {
    return this.bus.lastMessage(STREAM, filter);
  }
}

/** The session and whole state a state-lane event carries (`f.state`), or undefined for any other event. */
export function sessionStateOf(event: AnyEvent): { session: string; state: SmState } | undefined {
  switch (event.type) {
    case 'sm.enabled':
    case 'sm.hibernation_started':
    case 'sm.hibernation_deadline_set':
    case 'sm.hibernation_ended':
    case 'sm.session_terminated':
      return { session: event.data.session, state: event.data.state };
    default:
      return undefined;
  }
}

function entryOf(stored: StoredEvent): QueueEntry | undefined {
  const event = decodeEvent(stored.data);
  const at = new Date(event.metadata.at);
  if (event.type === 'stanza.sent') return { seq: stored.seq, kind: 'sent', stanza: event.data.stanza, at };
  if (event.type === 'sm.hibernation_stanza_queued') {
    return { seq: stored.seq, kind: 'queued', stanza: event.data.stanza, at };
  }
  return undefined;
}

/** Serial number arithmetic on h (mod 2^32, XEP-0198 §4). */
function isLater(a: number, b: number): boolean {
  const distance = (a - b + 2 ** 32) % 2 ** 32;
  return distance !== 0 && distance < 2 ** 31;
}

/** A state without the fields that only mean something in some states. */
export function stateWithout(
  state: SmState,
  ...keys: readonly ('owner' | 'hibernatedAt' | 'deadline')[]
): SmState {
  const dropped = new Set<string>(keys);
  return Object.fromEntries(Object.entries(state).filter(([key]) => !dropped.has(key))) as SmState;
}
