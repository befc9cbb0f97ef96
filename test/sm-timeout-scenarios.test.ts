import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { uniqueId } from '@holdfast/testing';
import { NS, xml, type Element } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Test support of the gateway package (not part of its build): the scripted SM client and §8 helpers.
import { finOf, mamQuery, stanzaIdBy } from '../services/gateway/src/testing/mam.js';
import { SmClient } from '../services/gateway/src/testing/sm-client.js';
import {
  SM,
  SM_TEST_PROFILE,
  chat,
  childNames,
  isMessage,
  receivedSinceEnabled,
  resumeWith,
  sleep,
} from '../services/gateway/src/testing/sm-scenarios.js';
import {
  privateNats,
  type ServiceProcess,
  startGateway,
  startService,
  usersCli,
  processEnv,
} from './support/processes.js';
import {
  ackAll,
  answerAckRequests,
  arrival,
  availableFrom,
  password,
  sessionOf,
  SessionWatch,
  subscribe,
  unavailableFrom,
} from './support/sm-timeout.js';

/**
 * Spec §8 scenarios 23, 29-39: what happens when a hibernating session ends: its deadline (T9, fired by
 * the timeout service), the per-user limits of §5 (T11 eviction, h-records pruned to
 * `max_old_sessions`), the queue cap while hibernating (T11b), a non-resumable session's transport loss
 * (T6) and a resource conflict against a hibernating session (T10), each with the §4 outcomes its
 * contacts see (32: R7a, with the gateway's MAM). Real processes (session-state, timeout, one gateway)
 * with the §8 test profile ("MUC and MAM available": MAM is on by default).
 */
const env = processEnv('smtimeout', SM_TEST_PROFILE);

/** `hibernation_time_s` of the profile, and the ±2 s the spec allows a deadline (§3). */
const DEADLINE_MS = 5000;
const SLACK_MS = 2000;
/** Long enough for a deadline to fire, short enough that a missing one fails the scenario. */
const EXPIRY_WAIT_MS = DEADLINE_MS + SLACK_MS + 1000;

/** The spec's scenarios, and `quiet`: an expiring resource that never sent presence (RFC 6121 §4.5.2). */
const SCENARIOS = ['23', '29', '30', '31', '32', '33', '34', '35', '36', '37', '38', '39', 'quiet'];
const processes: { readonly name: string; readonly service: ServiceProcess }[] = [];
const clients: SmClient[] = [];
const stoppers: (() => void)[] = [];
let port = 0;
let sessionWatch: SessionWatch | undefined;

function logs(): SessionWatch {
  if (sessionWatch === undefined) throw new Error('not connected to the session logs');
  return sessionWatch;
}

let nats: Awaited<ReturnType<typeof privateNats>> | undefined;

beforeAll(async () => {
  nats = await privateNats();
  env.NATS_URL = nats.url;
  await Promise.all(
    SCENARIOS.flatMap((n) => [`alice${n}`, `bob${n}`]).map((user) =>
      usersCli(env, 'add', user, password(user)),
    ),
  );
  processes.push({
    name: 'session-state',
    service: await startService('session-state', env, 'session-state ready'),
  });
  processes.push({ name: 'timeout', service: await startService('timeout', env, 'timeout ready') });
  const gateway = await startGateway(env, uniqueId('gw-'));
  processes.push({ name: 'gateway', service: gateway });
  port = gateway.port;
  sessionWatch = await SessionWatch.connect(env.NATS_URL);
  // Bob watches alice's presence in every scenario; in 34 alice also gets bob's (his update is queued).
  await Promise.all(SCENARIOS.map((n) => subscribe(port, `bob${n}`, `alice${n}`)));
  await subscribe(port, 'alice34', 'bob34');
}, 60_000);

afterAll(async () => {
  for (const stop of stoppers) stop();
  for (const client of clients) client.kill();
  for (const { service } of processes) service.child.kill('SIGKILL');
  await sessionWatch?.close();
  // The services' logs, for a failure's post-mortem.
  const dir = path.join(tmpdir(), 'holdfast-sm-timeout-scenarios', env.MONGO_DB);
  mkdirSync(dir, { recursive: true });
  for (const { name, service } of processes)
    writeFileSync(path.join(dir, `${name}.log`), service.lines.join('\n'));
  await nats?.stop();
});

async function bound(user: string, resource: string): Promise<SmClient> {
  const client = await SmClient.bound(port, user, password(user), resource);
  clients.push(client);
  return client;
}

async function authenticated(user: string): Promise<SmClient> {
  const client = await SmClient.authenticated(port, user, password(user));
  clients.push(client);
  return client;
}

/** Bob at his desk: available, SM on (no resume), acknowledging like a real client. */
async function contact(user: string): Promise<SmClient> {
  const bob = await bound(user, 'desk');
  expect((await bob.enable({})).name).toBe('enabled');
  stoppers.push(answerAckRequests(bob));
  bob.send(xml('presence'));
  await arrival(bob, availableFrom(bob.jid));
  return bob;
}

interface Resumable {
  readonly alice: SmClient;
  readonly previd: string;
  readonly session: string;
}

/** Alice bound as `resource`, resumable, and (unless `available` is false) with initial presence sent. */
async function resumable(user: string, resource: string, available = true): Promise<Resumable> {
  const alice = await bound(user, resource);
  const enabled = await alice.enable();
  expect(enabled.name).toBe('enabled');
  const previd = enabled.attrs.id ?? '';
  expect(previd).not.toBe('');
  if (available) {
    alice.send(xml('presence'));
    await arrival(alice, availableFrom(alice.jid));
  }
  return { alice, previd, session: sessionOf(previd) };
}

/** Kills the client's connection and waits until the gateway has hibernated its session (T5). */
async function killAndHibernate(client: SmClient, session: string): Promise<number> {
  client.kill();
  const killedAt = Date.now();
  await logs().hibernating(session);
  return killedAt;
}

/** Asserts that `elapsedMs` since the kill is the hibernation deadline, within the spec's ±2 s. */
function expectDeadline(elapsedMs: number): void {
  expect(elapsedMs).toBeGreaterThanOrEqual(DEADLINE_MS - SLACK_MS);
  expect(elapsedMs).toBeLessThanOrEqual(DEADLINE_MS + SLACK_MS);
}

const errors = (client: SmClient): string[] =>
  client.stanzas.filter((e) => e.attrs.type === 'error').map(String);

const elementNames = (element: Element): string[] =>
  element.children.filter((child): child is Element => typeof child !== 'string').map((child) => child.name);

const itemNotFound = [`{${NS.STANZA_ERROR}}item-not-found`];

/** A new login as `resource` with initial presence: the stored messages follow it (XEP-0160). */
async function loginWithPresence(user: string, resource: string): Promise<SmClient> {
  const again = await bound(user, resource);
  again.send(xml('presence'));
  return again;
}

/** Waits for messages `ids` from offline storage, and checks their order, sender and delay stamp. */
async function expectOffline(
  client: SmClient,
  ids: readonly string[],
  from: string,
  sentAt: ReadonlyMap<string, number>,
): Promise<void> {
  const user = client.jid.split('/')[0] ?? '';
  for (const id of ids) {
    const message = await arrival(client, isMessage(id));
    expect(message.attrs.from).toBe(from);
    const delay = message.getChild('delay', NS.DELAY);
    expect(delay?.attrs.from, `delay of ${id}`).toBe(user);
    // §2.5: stamped when first queued (sent or queued while hibernating), kept through §4 and storage.
    const sent = sentAt.get(id) ?? 0;
    expect(Math.abs(Date.parse(delay?.attrs.stamp ?? '') - sent), `stamp of ${id}`).toBeLessThan(1000);
  }
  expect(client.stanzas.filter((e) => e.name === 'message').map((e) => e.attrs.id)).toEqual(ids);
}

/** Bob sends chat messages `ids` to `to`; returns when each was sent. */
function sendChats(bob: SmClient, to: string, ids: readonly string[]): Map<string, number> {
  const sentAt = new Map<string, number>();
  for (const id of ids) {
    bob.send(chat(to, id));
    sentAt.set(id, Date.now());
  }
  return sentAt;
}

describe.concurrent('stream management: hibernation ends (spec §8, with the timeout service)', () => {
  it("scenario 23: the deadline fires on time (T9); a resume gets <failed h='4'><item-not-found/>, a second one no h", async () => {
    const bob = await contact('bob23');
    const { alice, previd, session } = await resumable('alice23', 'phone');
    await arrival(bob, availableFrom(alice.jid));
    // Initial presence and three pings: four stanzas handled from her.
    for (const id of ['p1', 'p2', 'p3']) {
      alice.send(xml('iq', { type: 'get', id }, xml('ping', { xmlns: NS.PING })));
    }
    for (const id of ['p1', 'p2', 'p3']) await arrival(alice, (e) => e.name === 'iq' && e.attrs.id === id);
    expect(await alice.requestAck()).toBe(4);
    const killedAt = await killAndHibernate(alice, session);

    const gone = await arrival(bob, unavailableFrom(alice.jid), EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - killedAt);
    expect(gone.attrs.to).toBe('bob23@localhost');
    const ended = await logs().state(session, (record) => record.state.status === 'TERMINATED');
    expect(ended.state).toMatchObject({ terminatedKind: 'expired', recordKept: true });

    const again = await authenticated('alice23');
    const failed = await resumeWith(again, previd, receivedSinceEnabled(alice));
    expect(failed.name).toBe('failed');
    expect(failed.attrs).toEqual({ xmlns: SM, h: '4' });
    expect(childNames(failed)).toEqual(itemNotFound);
    const second = await resumeWith(again, previd, receivedSinceEnabled(alice));
    expect(second.name).toBe('failed');
    expect(second.attrs.h).toBeUndefined();
    expect(childNames(second)).toEqual(itemNotFound);
  });

  it('a resource that never sent presence expires without an unavailable presence to its contacts', async () => {
    const bob = await contact('bobquiet');
    const { alice, session } = await resumable('alicequiet', 'phone', false);
    await killAndHibernate(alice, session);
    await logs().state(session, (record) => record.state.status === 'TERMINATED', EXPIRY_WAIT_MS);
    // Another resource's initial presence reaches bob after anything the expiry would have sent him.
    const laptop = await loginWithPresence('alicequiet', 'laptop');
    await arrival(bob, availableFrom(laptop.jid));
    expect(bob.stanzas.filter(unavailableFrom(alice.jid)).map(String)).toEqual([]);
  });

  it('scenario 29: the 6th stanza for a hibernating session overflows it (T11b): unavailable at once, <failed h/>, all 6 offline', async () => {
    const bob = await contact('bob29');
    const { alice, previd, session } = await resumable('alice29', 'phone');
    await arrival(bob, availableFrom(alice.jid));
    const aliceH = await ackAll(alice);
    const killedAt = await killAndHibernate(alice, session);
    expect(await logs().queue(session)).toEqual([]);

    const ids = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    const sentAt = sendChats(bob, alice.jid, ids.slice(0, 5));
    // Bob's <r/> is answered once his five messages are durable in alice's queue (§1.3, T7).
    await bob.requestAck();
    expect((await logs().queue(session)).map((e) => e.attrs.id)).toEqual(ids.slice(0, 5));
    expect(bob.received.some(unavailableFrom(alice.jid))).toBe(false);

    for (const [id, at] of sendChats(bob, alice.jid, ids.slice(5))) sentAt.set(id, at);
    await arrival(bob, unavailableFrom(alice.jid), 3000);
    // At the 6th stanza, not at the deadline.
    expect(Date.now() - killedAt).toBeLessThan(DEADLINE_MS - SLACK_MS);
    const ended = await logs().state(session, (record) => record.state.status === 'TERMINATED');
    expect(ended.state).toMatchObject({ terminatedKind: 'overflow', recordKept: true });

    const again = await authenticated('alice29');
    const failed = await resumeWith(again, previd, aliceH);
    expect(failed.name).toBe('failed');
    expect(failed.attrs).toEqual({ xmlns: SM, h: '1' });
    expect(childNames(failed)).toEqual(itemNotFound);

    const fresh = await loginWithPresence('alice29', 'laptop');
    await expectOffline(fresh, ids, bob.jid, sentAt);
    expect(errors(bob)).toEqual([]);
  });

  it('scenario 30: 2 unacked chats when the deadline fires: bob sees unavailable, no errors; both offline with their original stamps', async () => {
    const bob = await contact('bob30');
    const { alice, session } = await resumable('alice30', 'phone');
    await arrival(bob, availableFrom(alice.jid));
    await ackAll(alice);
    const sentAt = sendChats(bob, alice.jid, ['m1', 'm2']);
    for (const id of ['m1', 'm2']) await arrival(alice, isMessage(id));
    const killedAt = await killAndHibernate(alice, session);
    expect((await logs().queue(session)).map((e) => e.attrs.id)).toEqual(['m1', 'm2']);

    const gone = await arrival(bob, unavailableFrom(alice.jid), EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - killedAt);
    // T9: the resource is unbound with this status (Prosody's wording).
    expect(gone.getChildText('status'), gone.toString()).toBe('Disconnected: hibernation timeout');
    const ended = await logs().state(session, (record) => record.state.status === 'TERMINATED');
    expect(ended.state).toMatchObject({ terminatedKind: 'expired', recordKept: true });

    const fresh = await loginWithPresence('alice30', 'laptop');
    await expectOffline(fresh, ['m1', 'm2'], bob.jid, sentAt);
    expect(errors(bob)).toEqual([]);
  });

  it('scenario 31: with a second resource online, the expiring one bounces its unacked chat (wait, recipient-unavailable)', async () => {
    const bob = await contact('bob31');
    const laptop = await bound('alice31', 'laptop');
    laptop.send(xml('presence'));
    await arrival(laptop, availableFrom(laptop.jid));
    const { alice, session } = await resumable('alice31', 'phone');
    bob.send(chat(alice.jid, 'm1'));
    const delivered = await arrival(alice, isMessage('m1'));
    // Archived like in 32; without a MAM query from this session R7a does not apply.
    expect(stanzaIdBy(delivered, 'alice31@localhost')).toBeDefined();
    const killedAt = await killAndHibernate(alice, session);

    const bounce = await arrival(bob, (e) => isMessage('m1')(e) && e.attrs.type === 'error', EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - killedAt);
    expect(bounce.attrs).toMatchObject({ from: alice.jid, to: bob.jid, id: 'm1', type: 'error' });
    // §4 bounce: only the error, no original payload.
    expect(elementNames(bounce)).toEqual(['error']);
    const error = bounce.getChild('error');
    expect(error?.attrs).toMatchObject({ type: 'wait', by: 'alice31@localhost' });
    expect(childNames(error ?? bounce)).toEqual([`{${NS.STANZA_ERROR}}recipient-unavailable`]);
    await arrival(bob, unavailableFrom(alice.jid));
    // R7c: not re-delivered to the other resource.
    expect(await laptop.sees(isMessage('m1'), 300)).toBe(false);
    expect(laptop.received.some(isMessage('m1'))).toBe(false);
  });

  it('scenario 32: as 31, but the expiring resource had queried MAM and the chat has its stanza-id: bob gets no error (R7a)', async () => {
    const bob = await contact('bob32');
    const laptop = await bound('alice32', 'laptop');
    laptop.send(xml('presence'));
    await arrival(laptop, availableFrom(laptop.jid));
    const { alice, session } = await resumable('alice32', 'phone');
    alice.send(mamQuery('q32'));
    const fin = await arrival(alice, (e) => e.name === 'iq' && e.attrs.id === 'q32');
    expect(fin.attrs.type).toBe('result');
    expect(finOf(fin).complete).toBe('true');
    // Logged before it was answered, in the session's log, where whoever ends the session reads it.
    expect(await logs().mamQueried(session)).toBe(true);
    await ackAll(alice);
    bob.send(chat(alice.jid, 'm1'));
    const delivered = await arrival(alice, isMessage('m1'));
    expect(stanzaIdBy(delivered, 'alice32@localhost')).toBeDefined();
    const killedAt = await killAndHibernate(alice, session);
    expect((await logs().queue(session)).map((e) => e.attrs.id)).toEqual(['m1']);

    await arrival(bob, unavailableFrom(alice.jid), EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - killedAt);
    // §4 ran before the unavailable presence went out: m1 was dropped under R7a, nothing bounced.
    expect(await logs().lastOutcome(session)).toMatchObject({ stanzaId: 'm1', rule: 'R7a', action: 'drop' });
    expect(await bob.sees((e) => e.attrs.type === 'error', 300)).toBe(false);
    expect(errors(bob)).toEqual([]);
    // Nor re-delivered to the other resource: the client fetches it from the archive.
    expect(laptop.received.some(isMessage('m1'))).toBe(false);
  });

  it("scenario 33: bob's iq get queued for a hibernating session is bounced at expiry (wait, recipient-unavailable)", async () => {
    const bob = await contact('bob33');
    const { alice, session } = await resumable('alice33', 'phone', false);
    const killedAt = await killAndHibernate(alice, session);
    bob.send(xml('iq', { type: 'get', id: 'q1', to: alice.jid }, xml('ping', { xmlns: NS.PING })));
    await logs().queued(session, (e) => e.name === 'iq' && e.attrs.id === 'q1');

    const answer = await arrival(bob, (e) => e.name === 'iq' && e.attrs.id === 'q1', EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - killedAt);
    expect(answer.attrs).toMatchObject({ type: 'error', from: alice.jid, to: bob.jid });
    const error = answer.getChild('error');
    expect(error?.attrs).toMatchObject({ type: 'wait', by: 'alice33@localhost' });
    expect(childNames(error ?? answer)).toEqual([`{${NS.STANZA_ERROR}}recipient-unavailable`]);
  });

  it("scenario 34: bob's presence update queued for a hibernating session: no presence error at expiry", async () => {
    const bob = await contact('bob34');
    const { alice, session } = await resumable('alice34', 'phone');
    await arrival(bob, availableFrom(alice.jid));
    await arrival(alice, availableFrom(bob.jid));
    const killedAt = await killAndHibernate(alice, session);
    bob.send(xml('presence', { id: 'away' }, xml('show', {}, 'away')));
    await logs().queued(session, (e) => e.name === 'presence' && e.attrs.id === 'away');

    await arrival(bob, unavailableFrom(alice.jid), EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - killedAt);
    expect(await bob.sees((e) => e.name === 'presence' && e.attrs.type === 'error', 500)).toBe(false);
    expect(errors(bob)).toEqual([]);
  });

  it('scenario 35: an iq result queued for a hibernating session: its sender gets no error at expiry', async () => {
    const bob = await contact('bob35');
    const { alice, session } = await resumable('alice35', 'phone');
    await arrival(bob, availableFrom(alice.jid));
    alice.send(
      xml('iq', { type: 'get', id: 'v1', to: bob.jid }, xml('query', { xmlns: 'jabber:iq:version' })),
    );
    await arrival(bob, (e) => e.name === 'iq' && e.attrs.id === 'v1');
    const killedAt = await killAndHibernate(alice, session);
    bob.send(
      xml(
        'iq',
        { type: 'result', id: 'v1', to: alice.jid },
        xml('query', { xmlns: 'jabber:iq:version' }, xml('name', {}, 'bob')),
      ),
    );
    await logs().queued(session, (e) => e.name === 'iq' && e.attrs.id === 'v1');

    await arrival(bob, unavailableFrom(alice.jid), EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - killedAt);
    expect(await bob.sees((e) => e.attrs.type === 'error', 500)).toBe(false);
    expect(errors(bob)).toEqual([]);
  });

  it('scenario 36: SM without resume, killed (T6): bob sees unavailable at once; unacked chats offline at once', async () => {
    const bob = await contact('bob36');
    const alice = await bound('alice36', 'phone');
    const enabled = await alice.enable({});
    expect(enabled.name).toBe('enabled');
    expect(enabled.attrs.id).toBeUndefined();
    alice.send(xml('presence'));
    await arrival(bob, availableFrom(alice.jid));
    const sentAt = sendChats(bob, alice.jid, ['m1', 'm2']);
    for (const id of ['m1', 'm2']) await arrival(alice, isMessage(id));
    alice.kill();
    const killedAt = Date.now();

    await arrival(bob, unavailableFrom(alice.jid), 2000);
    expect(Date.now() - killedAt).toBeLessThan(1000);
    const fresh = await loginWithPresence('alice36', 'laptop');
    await expectOffline(fresh, ['m1', 'm2'], bob.jid, sentAt);
    expect(Date.now() - killedAt).toBeLessThan(DEADLINE_MS - SLACK_MS);
    expect(errors(bob)).toEqual([]);
  });

  it('scenario 37: binding the hibernating resource again (T10): unavailable then available; old unacked offline; previd revoked', async () => {
    const bob = await contact('bob37');
    const { alice, previd, session } = await resumable('alice37', 'phone');
    await arrival(bob, availableFrom(alice.jid));
    const sentAt = sendChats(bob, alice.jid, ['m1', 'm2']);
    for (const id of ['m1', 'm2']) await arrival(alice, isMessage(id));
    const killedAt = await killAndHibernate(alice, session);
    const presencesBefore = bob.received.length;

    const fresh = await bound('alice37', 'phone');
    expect(fresh.jid).toBe('alice37@localhost/phone');
    const ended = await logs().state(session, (record) => record.state.status === 'TERMINATED');
    expect(ended.state.terminatedKind).toBe('closed');
    // Stored messages wait for the initial presence (XEP-0160).
    expect(await fresh.sees((e) => e.name === 'message', 300)).toBe(false);
    fresh.send(xml('presence'));
    await expectOffline(fresh, ['m1', 'm2'], bob.jid, sentAt);

    await arrival(bob, availableFrom(alice.jid), 2000, presencesBefore);
    const seenByBob = bob.received
      .slice(presencesBefore)
      .filter((e) => e.name === 'presence' && e.attrs.from === alice.jid)
      .map((e) => e.attrs.type ?? 'available');
    expect(seenByBob).toEqual(['unavailable', 'available']);
    expect(Date.now() - killedAt).toBeLessThan(DEADLINE_MS - SLACK_MS);

    const again = await authenticated('alice37');
    const failed = await resumeWith(again, previd, 2);
    expect(failed.name).toBe('failed');
    expect(failed.attrs.h).toBeUndefined();
    expect(childNames(failed)).toEqual(itemNotFound);
    expect(errors(bob)).toEqual([]);
  });

  it('scenario 38: a third hibernating session evicts the longest-hibernating one (T11); it gets <failed h/>, the second resumes', async () => {
    const bob = await contact('bob38');
    const sessions: Resumable[] = [];
    for (const resource of ['r1', 'r2', 'r3']) {
      const session = await resumable('alice38', resource);
      await arrival(bob, availableFrom(session.alice.jid));
      sessions.push(session);
    }
    const [r1, r2, r3] = sessions as [Resumable, Resumable, Resumable];
    for (const session of sessions) await ackAll(session.alice);

    const r1KilledAt = await killAndHibernate(r1.alice, r1.session);
    await killAndHibernate(r2.alice, r2.session);
    expect(bob.received.some(unavailableFrom(r1.alice.jid))).toBe(false);
    const r3KilledAt = await killAndHibernate(r3.alice, r3.session);
    expect(Date.now() - r1KilledAt).toBeLessThan(2000);

    await arrival(bob, unavailableFrom(r1.alice.jid), 2000);
    expect(Date.now() - r3KilledAt).toBeLessThan(DEADLINE_MS - SLACK_MS);
    const evicted = await logs().state(r1.session, (record) => record.state.status === 'TERMINATED');
    expect(evicted.state).toMatchObject({ terminatedKind: 'evicted', recordKept: true });
    expect(bob.received.some(unavailableFrom(r2.alice.jid))).toBe(false);
    expect(bob.received.some(unavailableFrom(r3.alice.jid))).toBe(false);

    const first = await authenticated('alice38');
    const failed = await resumeWith(first, r1.previd, receivedSinceEnabled(r1.alice));
    expect(failed.name).toBe('failed');
    expect(failed.attrs).toEqual({ xmlns: SM, h: '1' });
    expect(childNames(failed)).toEqual(itemNotFound);

    const second = await authenticated('alice38');
    const resumed = await resumeWith(second, r2.previd, receivedSinceEnabled(r2.alice));
    expect(resumed.name).toBe('resumed');
    expect(resumed.attrs).toEqual({ xmlns: SM, previd: r2.previd, h: '1' });
    expect(second.received.some((e) => e.name === 'failed')).toBe(false);
  });

  it('scenario 39: with max_old_sessions 2, the oldest of three expired sessions has no h-record; the newer two report h', async () => {
    const bob = await contact('bob39');
    // Each session sends initial presence and n − 1 chats to bob: n stanzas handled.
    const sessions: Resumable[] = [];
    for (const [index, resource] of ['s1', 's2', 's3'].entries()) {
      const session = await resumable('alice39', resource);
      stoppers.push(answerAckRequests(session.alice));
      await arrival(bob, availableFrom(session.alice.jid));
      for (let n = 1; n <= index; n++) session.alice.send(chat(bob.jid, `${resource}-${n}`));
      expect(await session.alice.requestAck()).toBe(index + 1);
      sessions.push(session);
    }
    const [s1, s2, s3] = sessions as [Resumable, Resumable, Resumable];

    // Two hibernate at once (the limit), s2 1.5 s after s1; s3 only once s1 expired, so none is evicted.
    // Deadlines this far apart expire in order (timers that close together may fire in either order).
    const s1KilledAt = await killAndHibernate(s1.alice, s1.session);
    await sleep(1500);
    await killAndHibernate(s2.alice, s2.session);
    await arrival(bob, unavailableFrom(s1.alice.jid), EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - s1KilledAt);
    const s3KilledAt = await killAndHibernate(s3.alice, s3.session);
    const again = await authenticated('alice39');
    await arrival(bob, unavailableFrom(s2.alice.jid), EXPIRY_WAIT_MS);
    await arrival(bob, unavailableFrom(s3.alice.jid), EXPIRY_WAIT_MS);
    expectDeadline(Date.now() - s3KilledAt);

    // The third expiry is visible to bob: its h-record is kept and the oldest one is gone (§5).
    const oldest = await resumeWith(again, s1.previd, receivedSinceEnabled(s1.alice));
    expect(oldest.name).toBe('failed');
    expect(oldest.attrs.h, oldest.toString()).toBeUndefined();
    expect(childNames(oldest)).toEqual(itemNotFound);
    for (const [session, h] of [
      [s2, '2'],
      [s3, '3'],
    ] as const) {
      const failed = await resumeWith(again, session.previd, receivedSinceEnabled(session.alice));
      expect(failed.name).toBe('failed');
      expect(failed.attrs).toEqual({ xmlns: SM, h });
      expect(childNames(failed)).toEqual(itemNotFound);
    }
    const ended = await Promise.all(
      sessions.map(({ session }) => logs().state(session, (record) => record.state.status === 'TERMINATED')),
    );
    expect(ended.map((record) => record.state.terminatedKind)).toEqual(['expired', 'expired', 'expired']);
    const terminatedAt = ended.map((record) => record.at.getTime());
    expect([...terminatedAt].sort((a, b) => a - b)).toEqual(terminatedAt);
  });
});
