import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@holdfast/bus';
import { STREAMS, decodeEvent, partitionOf, sessionFilter, type AnyEvent } from '@holdfast/events';
import { SessionLog } from '@holdfast/session-log';
import { SmHRecords, SmQueue, SmSessions, Store } from '@holdfast/store';
import { recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';

import { UserSessionsBucket } from '../limits/user-sessions-bucket.js';
import { SessionScript } from '../testing/session-events.js';
import { SessionProjector } from './session-projector.js';

const logger = recordingLogger();
const infra = testInfrastructure();
let bus: Bus;
let store: Store;
let projector: SessionProjector;
let users: UserSessionsBucket;

beforeAll(async () => {
  bus = await Bus.connect({ url: infra.natsUrl, name: 'projector-test', node: 'test', logger });
  await bus.ensureStreams();
  store = await Store.open({ url: infra.mongoUrl, dbName: uniqueId('proj'), logger });
  await store.ensureIndexes();
  users = new UserSessionsBucket(bus, { bucket: uniqueId('users') });
  projector = new SessionProjector(store, new SessionLog(bus), users);
});

afterAll(async () => {
  await bus.drain();
  await store.close();
});

/** Every event of a session's log with its stream sequence, in order. */
async function eventsOf(session: string): Promise<{ event: AnyEvent; seq: number }[]> {
  const batch = await bus.jsm.direct.getBatch(STREAMS.session.name, {
    seq: 1,
    next_by_subj: sessionFilter(session),
    batch: 100,
  });
  const events: { event: AnyEvent; seq: number }[] = [];
  for await (const stored of batch) events.push({ event: decodeEvent(stored.data), seq: stored.seq });
  return events;
}

async function documents(session: string) {
  const [sessions, queue, records] = await Promise.all([
    store.run(SmSessions, 'find', (c) => c.find({ _id: session }).toArray()),
    store.run(SmQueue, 'find', (c) => c.find({ session }).sort({ seq: 1 }).toArray()),
    store.run(SmHRecords, 'find', (c) => c.find({ _id: session }).toArray()),
  ]);
  return { sessions, queue, records };
}

async function applyAll(events: readonly { event: AnyEvent; seq: number }[]): Promise<void> {
  for (const { event, seq } of events) await projector.apply(event, seq);
}

describe('session projection', () => {
  it('projects a hibernation with its queue, and the same documents again when events are replayed', async () => {
    const script = new SessionScript(bus, uniqueId('s'), 'gw-a');
    await script.enable();
    await script.send();
    await script.send();
    await script.hibernate();
    await script.queue();
    await script.queue();
    const events = await eventsOf(script.session);
    await applyAll(events);
    const once = await documents(script.session);
    expect(once.sessions).toEqual([
      expect.objectContaining({
        _id: script.session,
        status: 'HIBERNATING',
        bareJid: 'alice@localhost',
        queueLength: 4,
        lastSeq: events.at(-1)?.seq,
        deadline: new Date('2025-03-01T12:01:00.000Z'),
      }),
    ]);
    expect(once.sessions[0]).not.toHaveProperty('owner');
    expect(once.queue.map((entry) => entry.stanza)).toEqual([
      "<message id='out-1'/>",
      "<message id='out-2'/>",
      "<message id='q-3'/>",
      "<message id='q-4'/>",
    ]);
    expect(once.records).toEqual([]);
    // Where the queue's entries start in the log, to delete them by `_id` when it is cleared.
    expect(once.sessions[0]?.queueFrom).toBeLessThanOrEqual(once.queue[0]?.seq ?? 0);
    expect((await users.get('alice@localhost')).hibernating[script.session]).toEqual({
      version: 1,
      hibernatedAt: expect.any(String) as string,
    });

    await applyAll(events);
    await applyAll(events.slice(1, 4));
    expect(await documents(script.session)).toEqual(once);
  });

  it('leaves a session that has moved on as it is when its first event comes again', async () => {
    const script = new SessionScript(bus, uniqueId('s'), 'gw-a', { jid: 'dave@localhost/r' });
    await script.enable();
    await script.hibernate();
    const events = await eventsOf(script.session);
    await applyAll(events);
    const hibernating = await documents(script.session);
    expect(hibernating.sessions[0]).toMatchObject({ status: 'HIBERNATING' });
    const enabled = events[0];
    if (enabled?.event.type !== 'sm.enabled') throw new Error('the log does not start with sm.enabled');
    // Handed the enabling again: another instance (after a crash before its ack), then this one.
    await new SessionProjector(store, new SessionLog(bus), users).apply(enabled.event, enabled.seq);
    await projector.apply(enabled.event, enabled.seq);
    expect(await documents(script.session)).toEqual(hibernating);
  });

  it('keeps an h-record for an expired session, drops it when revoked, and clears the queue; replays change nothing', async () => {
    const script = new SessionScript(bus, uniqueId('s'), 'gw-a', { jid: 'bob@localhost/r' });
    await script.enable();
    await script.send();
    await script.hibernate();
    await script.queue();
    await script.terminate('expired', true);
    const expired = await eventsOf(script.session);
    await applyAll(expired);
    const afterExpiry = await documents(script.session);
    expect(afterExpiry.sessions[0]).toMatchObject({
      status: 'TERMINATED',
      terminatedKind: 'expired',
      queueLength: 0,
    });
    expect(afterExpiry.queue).toEqual([]);
    expect(afterExpiry.records).toEqual([
      { _id: script.session, bareJid: 'bob@localhost', h: 3, terminatedAt: expect.any(Date) as Date },
    ]);
    expect(await users.get('bob@localhost')).toEqual({
      hibernating: {},
      records: { [script.session]: afterExpiry.records[0]?.terminatedAt.toISOString() },
    });
    // A replay of the hibernation must not bring the cleared queue back.
    await applyAll(expired);
    expect(await documents(script.session)).toEqual(afterExpiry);
    // A replayed state event still hands over the user's entry: the limits after it are redone.
    const last = expired.at(-1);
    if (last === undefined) throw new Error('no events');
    expect(await projector.apply(last.event, last.seq)).toEqual(await users.get('bob@localhost'));

    await script.terminate('expired', false);
    const all = await eventsOf(script.session);
    await applyAll(all);
    const revoked = await documents(script.session);
    expect(revoked.records).toEqual([]);
    expect(await users.get('bob@localhost')).toEqual({ hibernating: {}, records: {} });
    expect(revoked.sessions[0]).toMatchObject({ recordKept: false, lastSeq: all.at(-1)?.seq });
    await applyAll(all);
    expect(await documents(script.session)).toEqual(revoked);
  });

  it('reads again what another instance wrote once told to forget the partition, so a redelivery changes nothing', async () => {
    const script = new SessionScript(bus, uniqueId('s'), 'gw-a', { jid: 'carol@localhost/r' });
    await script.enable();
    await script.hibernate();
    await script.queue();
    await script.queue();
    await script.terminate('expired', true);
    const events = await eventsOf(script.session);
    // This instance applies the hibernation and first queued stanza (and remembers its writes)...
    const first = events.findIndex(({ event }) => event.type === 'sm.hibernation_stanza_queued');
    await applyAll(events.slice(0, first + 1));
    // ...another one the rest, up to the termination that clears the queue.
    const other = new SessionProjector(store, new SessionLog(bus), users);
    for (const { event, seq } of events.slice(first + 1)) await other.apply(event, seq);
    const ended = await documents(script.session);
    expect(ended.queue).toEqual([]);
    // The second queued stanza comes back to this instance (a redelivery): its consumer saw a gap.
    const redelivered = events[first + 1];
    if (redelivered === undefined) throw new Error('no second queued stanza');
    projector.forget(partitionOf(script.session));
    await projector.apply(redelivered.event, redelivered.seq);
    expect(await documents(script.session)).toEqual(ended);
  });
});
