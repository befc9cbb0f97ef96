import { Bus } from '@holdfast/bus';
import { SmUnackedOutcome, decodeEvent, sessionTypeFilter, type DataOf } from '@holdfast/events';
import { SessionLog, type StateRecord } from '@holdfast/session-log';
import { NS, StreamParser, xml, type Element } from '@holdfast/xmpp';

// Test support of the gateway package (not part of its build): the scripted SM client.
import { SmClient } from '../../services/gateway/src/testing/sm-client.js';
import { receivedSinceEnabled } from '../../services/gateway/src/testing/sm-scenarios.js';

/**
 * Helpers for the §8 scenarios that need hibernation deadlines and the §5 limits (test/sm-timeout-scenarios):
 * presence subscriptions set up over the wire, clients that answer `<r/>` like a real one, waits that do
 * not move an SmClient's `next` cursor, and a read-only view of a session's log to check preconditions
 * ("bob's presence is queued") that the wire cannot show.
 */

export const password = (user: string): string => `${user}-pw`;

/**
 * The first element received (from index `from` on) matching `predicate`, waiting up to `timeoutMs`.
 * Unlike `SmClient.next` it consumes nothing, so waits on one client may be made in any order.
 */
export async function arrival(
  client: SmClient,
  predicate: (element: Element) => boolean,
  timeoutMs = 5000,
  from = 0,
): Promise<Element> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = client.received.slice(from).find(predicate);
    if (found !== undefined) return found;
    if (Date.now() >= deadline) {
      throw new Error(
        `no matching element within ${timeoutMs} ms; received:\n${client.received.map(String).join('\n')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const isPresenceFrom =
  (from: string, type?: string) =>
  (element: Element): boolean =>
    element.name === 'presence' && element.attrs.from === from && element.attrs.type === type;

/** Available presence from `jid` (a full JID). */
export const availableFrom = (jid: string): ((element: Element) => boolean) => isPresenceFrom(jid);

/** Unavailable presence from `jid` (a full JID). */
export const unavailableFrom = (jid: string): ((element: Element) => boolean) =>
  isPresenceFrom(jid, 'unavailable');

/**
 * RFC 6121 §3.1: `watcher` subscribes to `target`'s presence and `target` approves, each on a setup
 * connection of its own that is closed afterwards. Afterwards `watcher`'s roster has `target` with
 * subscription `to` (or `both`), so `target`'s broadcast presence reaches `watcher`'s available resources.
 */
export async function subscribe(
  port: number,
  watcher: string,
  target: string,
  domain = 'localhost',
): Promise<void> {
  const [w, t] = await Promise.all([
    SmClient.bound(port, watcher, password(watcher), `watch-${target}`),
    SmClient.bound(port, target, password(target), `watched-by-${watcher}`),
  ]);
  try {
    // Available, so the request is delivered at once (§3.1.3) rather than at a later initial presence.
    t.send(xml('presence'));
    await arrival(t, availableFrom(t.jid));
    w.send(xml('presence', { to: `${target}@${domain}`, type: 'subscribe', id: 'subscribe' }));
    await arrival(
      t,
      (e) => e.name === 'presence' && e.attrs.type === 'subscribe' && e.attrs.from === `${watcher}@${domain}`,
    );
    t.send(xml('presence', { to: `${watcher}@${domain}`, type: 'subscribed', id: 'subscribed' }));
    await arrival(w, (e) => {
      const item = e.name === 'iq' ? e.getChild('query', NS.ROSTER)?.getChild('item') : undefined;
      return (
        item?.attrs.jid === `${target}@${domain}` &&
        (item.attrs.subscription === 'to' || item.attrs.subscription === 'both')
      );
    });
  } finally {
    for (const client of [w, t]) client.closeStream();
    await Promise.all([w.expectClosed(), t.expectClosed()]);
  }
}

/**
 * Answers every `<r/>` the server sends with the number of stanzas received since `<enabled/>` (what a
 * real client does), so a long-lived SM client neither fills its queue nor is dropped by the read
 * timeout (§2.6). Returns the function that stops it.
 */
export function answerAckRequests(client: SmClient): () => void {
  let seen = 0;
  const timer = setInterval(() => {
    const received = client.received;
    for (; seen < received.length; seen++) {
      const element = received[seen];
      if (element?.name === 'r' && element.attrs.xmlns === NS.SM) client.ack(receivedSinceEnabled(client));
    }
  }, 5);
  return () => {
    clearInterval(timer);
  };
}

/** Acknowledges everything received so far and waits until the server has read that ack. */
export async function ackAll(client: SmClient): Promise<number> {
  const h = receivedSinceEnabled(client);
  client.ack(h);
  // Input is handled in order (§1.3): once this `<r/>` is answered, the `<a/>` before it was handled.
  await client.requestAck();
  return h;
}

/** The session id in an SM-ID (`<session>.<secret>`). */
export const sessionOf = (smId: string): string => smId.split('.')[0] ?? '';

/** Parses one stanza as the session log stores it. */
function parseStanza(text: string): Element | undefined {
  let parsed: Element | undefined;
  const parser = new StreamParser(
    {
      streamStart: () => undefined,
      element: (element) => {
        parsed ??= element;
      },
      streamEnd: () => undefined,
      error: () => undefined,
    },
    { mode: 'framed', maxStanzaSize: 1 << 20 },
  );
  parser.write(text);
  return parsed;
}

const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A read-only view of SM session logs (JetStream `HF_SESSION`) for preconditions and end states. */
export class SessionWatch {
  private constructor(
    private readonly bus: Bus,
    private readonly log: SessionLog,
  ) {}

  static async connect(natsUrl: string): Promise<SessionWatch> {
    const bus = await Bus.connect({
      url: natsUrl,
      name: 'sm-timeout-test',
      node: 'sm-timeout-test',
      logger: silent,
    });
    return new SessionWatch(bus, new SessionLog(bus));
  }

  /** Waits until the session's last state satisfies `predicate`; returns that state record. */
  async state(
    session: string,
    predicate: (record: StateRecord) => boolean,
    timeoutMs = 5000,
  ): Promise<StateRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = await this.log.state(session);
      if (record !== undefined && predicate(record)) return record;
      if (Date.now() >= deadline) {
        throw new Error(
          `session ${session}: state not reached in ${timeoutMs} ms: ${JSON.stringify(record)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Waits until the session is HIBERNATING (the gateway noticed the lost transport, T5). */
  async hibernating(session: string, timeoutMs = 5000): Promise<StateRecord> {
    return this.state(session, (record) => record.state.status === 'HIBERNATING', timeoutMs);
  }

  /** Spec §4 R7a: the session logged that it issued a MAM query. */
  async mamQueried(session: string): Promise<boolean> {
    return this.log.mamQueried(session);
  }

  /** The last §4 outcome logged for the session (`sm.unacked_outcome`), if any. */
  async lastOutcome(session: string): Promise<DataOf<typeof SmUnackedOutcome> | undefined> {
    const stored = await this.log.last(sessionTypeFilter(session, SmUnackedOutcome.type));
    if (stored === undefined) return undefined;
    const event = decodeEvent(stored.data);
    return event.type === 'sm.unacked_outcome' ? event.data : undefined;
  }

  /** The session's unacknowledged queue (sent and queued entries), in order. */
  async queue(session: string): Promise<Element[]> {
    const snapshot = await this.log.snapshot(session);
    return (snapshot?.entries ?? []).flatMap((entry) => parseStanza(entry.stanza) ?? []);
  }

  /** Waits until the session's queue holds a stanza matching `predicate`. */
  async queued(session: string, predicate: (stanza: Element) => boolean, timeoutMs = 5000): Promise<Element> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const queue = await this.queue(session);
      const found = queue.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() >= deadline) {
        throw new Error(
          `session ${session}: nothing matching queued in ${timeoutMs} ms; queue:\n${queue.map(String).join('\n')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async close(): Promise<void> {
    await this.bus.drain();
  }
}
