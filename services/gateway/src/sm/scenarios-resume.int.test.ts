import { NS, xml, type Element } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { SmClient } from '../testing/sm-client.js';
import {
  SM,
  chat,
  childNames,
  isMessage,
  isSm,
  isStreamError,
  receivedSinceEnabled,
  resume,
  resumeWith,
  sleep,
  startSmScenarios,
  type SmScenarios,
} from '../testing/sm-scenarios.js';

// Spec §8 scenarios 18-23, 25, 27, 28, 46: resumption (§2.3) and its <failed/> answers (§1.4).

let sm: SmScenarios;

const users = ['18', '19', '20', '21', '22', '23', '25', '27', '28', '46'].flatMap((n) => [
  `alice${n}`,
  `bob${n}`,
]);

beforeAll(async () => {
  sm = await startSmScenarios({ users });
});

afterAll(async () => {
  await sm.stop();
});

/** Alice bound as `phone` and resumable. */
async function resumable(user: string): Promise<{ alice: SmClient; previd: string }> {
  const alice = await sm.bound(user, 'phone');
  const enabled = await alice.enable();
  expect(enabled.name).toBe('enabled');
  return { alice, previd: enabled.attrs.id ?? '' };
}

const ping = (id: string): Element => xml('iq', { type: 'get', id }, xml('ping', { xmlns: NS.PING }));
const isIq = (id: string) => (e: Element) => e.name === 'iq' && e.attrs.id === id;

/** Sends pings `ids` to the server and waits for every answer (each answer is a stanza she receives). */
async function pings(alice: SmClient, ids: readonly string[]): Promise<void> {
  for (const id of ids) alice.send(ping(id));
  for (const id of ids) expect((await alice.next(isIq(id))).attrs.type).toBe('result');
}

/** The elements received after `element`. */
const after = (client: SmClient, element: Element): Element[] =>
  client.received.slice(client.received.indexOf(element) + 1);

const stanzaNames = (elements: readonly Element[]): string[] =>
  elements
    .filter((e) => ['message', 'presence', 'iq'].includes(e.name))
    .map((e) => `${e.name}#${e.attrs.id ?? ''}`);

/** Lets the gateway notice the kill and hibernate the session (T5) before the scenario goes on. */
const HIBERNATE_MS = 200;

describe('stream management: resume (spec §8)', () => {
  it("scenario 18: kill, then <resume h='2'/> without bind: <resumed h='3'/>, nothing re-sent, <r/>, same full JID", async () => {
    const { alice, previd } = await resumable('alice18');
    const bob = await sm.bound('bob18', 'desk');
    for (const id of ['a1', 'a2', 'a3']) alice.send(chat('bob18@localhost/desk', id));
    for (const id of ['a1', 'a2', 'a3']) await bob.next(isMessage(id));
    for (const id of ['m1', 'm2']) bob.send(chat(alice.jid, id));
    for (const id of ['m1', 'm2']) await alice.next(isMessage(id));
    expect(await alice.requestAck()).toBe(3);
    alice.kill();
    await sleep(HIBERNATE_MS);

    const again = await sm.authenticated('alice18');
    const resumed = await resumeWith(again, previd, 2);
    expect(resumed.name).toBe('resumed');
    expect(resumed.attrs).toEqual({ xmlns: SM, previd, h: '3' });
    await again.next(isSm('r'), 1000);
    expect(after(again, resumed)[0]?.toString()).toBe(xml('r', { xmlns: SM }).toString());
    again.send(
      xml('iq', { type: 'get', id: 'self', to: 'alice18@localhost' }, xml('ping', { xmlns: NS.PING })),
    );
    const self = await again.next(isIq('self'));
    expect(self.attrs.type).toBe('result');
    expect(self.attrs.to).toBe('alice18@localhost/phone');
    expect(stanzaNames(after(again, resumed))).toEqual(['iq#self']);
  });

  it('scenario 19: M2 (not covered by h) is re-sent after <resumed/>, stamped at its first send; M1 is not', async () => {
    const { alice, previd } = await resumable('alice19');
    const bob = await sm.bound('bob19', 'desk');
    bob.send(chat(alice.jid, 'm1'));
    await alice.next(isMessage('m1'));
    bob.send(chat(alice.jid, 'm2'));
    await alice.next(isMessage('m2'));
    const firstSent = Date.now();
    alice.kill();
    await sleep(HIBERNATE_MS);

    const again = await sm.authenticated('alice19');
    const resumed = await resumeWith(again, previd, 1);
    expect(resumed.name).toBe('resumed');
    const m2 = await again.next(isMessage('m2'), 1000);
    expect(after(again, resumed)[0]).toBe(m2);
    expect(m2.attrs.from).toBe('bob19@localhost/desk');
    const delay = m2.getChild('delay', NS.DELAY);
    expect(delay?.attrs.from).toBe('alice19@localhost');
    expect(Math.abs(Date.parse(delay?.attrs.stamp ?? '') - firstSent)).toBeLessThan(1000);
    await again.next(isSm('r'), 1000);
    expect(await again.sees(isMessage('m1'), 500)).toBe(false);
    expect(stanzaNames(after(again, resumed))).toEqual(['message#m2']);
  });

  it('scenario 20: stanzas queued while hibernating arrive in order, stamped, before newer ones; no unavailable', async () => {
    const { alice, previd } = await resumable('alice20');
    const bob = await sm.bound('bob20', 'desk');
    alice.send(xml('presence', { to: 'bob20@localhost/desk' }));
    await bob.next((e) => e.name === 'presence' && e.attrs.from === alice.jid);
    const h = receivedSinceEnabled(alice);
    alice.kill();
    await sleep(HIBERNATE_MS);
    bob.send(chat(alice.jid, 'm3'));
    bob.send(chat(alice.jid, 'm4'));
    await sleep(300);
    expect(bob.received.some((e) => e.name === 'message' && e.attrs.type === 'error')).toBe(false);

    const again = await sm.authenticated('alice20');
    again.send(resume(previd, h));
    bob.send(chat(alice.jid, 'm5'));
    const resumed = await again.next(isSm('resumed'));
    await again.next(isMessage('m5'));
    expect(stanzaNames(after(again, resumed))).toEqual(['message#m3', 'message#m4', 'message#m5']);
    for (const id of ['m3', 'm4']) {
      const queued = again.received.find(isMessage(id));
      expect(queued?.getChild('delay', NS.DELAY)?.attrs.from).toBe('alice20@localhost');
    }
    expect(await bob.sees((e) => e.name === 'presence' && e.attrs.type === 'unavailable', 500)).toBe(false);
    expect(bob.received.filter((e) => e.name === 'presence' && e.attrs.from === alice.jid)).toHaveLength(1);
  });

  it('scenario 21: after a resume h continues from <resumed h/>', async () => {
    const { alice, previd } = await resumable('alice21');
    await pings(alice, ['p1', 'p2']);
    alice.kill();

    const again = await sm.authenticated('alice21');
    const resumed = await resumeWith(again, previd, 2);
    expect(resumed.name).toBe('resumed');
    expect(resumed.attrs.h).toBe('2');
    expect(await again.requestAck()).toBe(2);
    await pings(again, ['p3']);
    expect(await again.requestAck()).toBe(3);
  });

  it('scenario 22: unknown previd: <failed><item-not-found/> without h; bind and enable on the same stream', async () => {
    const alice = await sm.authenticated('alice22');
    const failed = await resumeWith(alice, 'AAAAAAAAAAAAAAAA.bm90LWEtc2VjcmV0', 0);
    expect(failed.name).toBe('failed');
    expect(childNames(failed)).toEqual([`{${NS.STANZA_ERROR}}item-not-found`]);
    expect(failed.attrs.h).toBeUndefined();
    expect((await alice.bind('phone')).attrs.type).toBe('result');
    expect(alice.jid).toBe('alice22@localhost/phone');
    const enabled = await alice.enable();
    expect(enabled.name).toBe('enabled');
    expect(enabled.attrs.id).toBeTruthy();
  });

  it("scenario 23: resume after expiry: <failed h='4'><item-not-found/></failed>, then without h", async () => {
    const { alice, previd } = await resumable('alice23');
    await pings(alice, ['p1', 'p2', 'p3', 'p4']);
    expect(await alice.requestAck()).toBe(4);
    alice.kill();
    await sleep(5500);

    const again = await sm.authenticated('alice23');
    const failed = await resumeWith(again, previd, 4);
    expect(failed.name).toBe('failed');
    expect(failed.attrs).toEqual({ xmlns: SM, h: '4' });
    expect(childNames(failed)).toEqual([`{${NS.STANZA_ERROR}}item-not-found`]);
    const second = await resumeWith(again, previd, 4);
    expect(second.name).toBe('failed');
    expect(second.attrs.h).toBeUndefined();
    expect(childNames(second)).toEqual([`{${NS.STANZA_ERROR}}item-not-found`]);
  });

  it("scenario 25: bob presenting alice's SM-ID gets item-not-found; alice's session is untouched", async () => {
    const { alice, previd } = await resumable('alice25');
    const bob = await sm.authenticated('bob25');
    const failed = await resumeWith(bob, previd, 0);
    expect(failed.name).toBe('failed');
    expect(childNames(failed)).toEqual([`{${NS.STANZA_ERROR}}item-not-found`]);
    expect(failed.attrs.h).toBeUndefined();
    expect(await alice.requestAck()).toBe(0);
    expect(alice.received.some(isStreamError)).toBe(false);
    alice.kill();
    await sleep(HIBERNATE_MS);

    const again = await sm.authenticated('alice25');
    const resumed = await resumeWith(again, previd, 0);
    expect(resumed.name).toBe('resumed');
  });

  it('scenario 27: resume while the old connection is open: old gets <a/> and conflict, unacked re-sent', async () => {
    const { alice, previd } = await resumable('alice27');
    const bob = await sm.bound('bob27', 'desk');
    bob.send(chat(alice.jid, 'm1'));
    await alice.next(isMessage('m1'));

    const again = await sm.authenticated('alice27');
    const resumed = await resumeWith(again, previd, 0);
    expect(resumed.name).toBe('resumed');
    const resent = await again.next(isMessage('m1'), 1000);
    expect(resent.getChild('delay', NS.DELAY)?.attrs.from).toBe('alice27@localhost');

    const error = await alice.next(isStreamError);
    expect(childNames(error).filter((name) => name !== `{${NS.STREAM_ERROR}}text`)).toEqual([
      `{${NS.STREAM_ERROR}}conflict`,
    ]);
    const before = alice.received[alice.received.indexOf(error) - 1];
    expect(before?.toString()).toBe(xml('a', { xmlns: SM, h: '0' }).toString());
    await alice.expectClosed();
    expect(await again.requestAck()).toBe(0);
  });

  it('scenario 28: h above what the server sent: <failed><undefined-condition/>; a correct resume still works', async () => {
    const { alice, previd } = await resumable('alice28');
    const bob = await sm.bound('bob28', 'desk');
    bob.send(chat(alice.jid, 'm1'));
    await alice.next(isMessage('m1'));
    alice.kill();
    await sleep(HIBERNATE_MS);

    const again = await sm.authenticated('alice28');
    const failed = await resumeWith(again, previd, 2);
    expect(failed.name).toBe('failed');
    expect(childNames(failed)).toEqual([`{${NS.STANZA_ERROR}}undefined-condition`]);
    expect(failed.attrs.h).toBeUndefined();
    const resumed = await resumeWith(again, previd, 1);
    expect(resumed.name).toBe('resumed');
    expect(resumed.attrs.h).toBe('0');
    expect(await again.sees(isMessage('m1'), 300)).toBe(false);
  });

  it('scenario 46: a message pipelined after a failing <resume/>: <failed/> then stream error not-authorized', async () => {
    const alice = await sm.authenticated('alice46');
    alice.write(resume('unknown', 0).toString() + chat('bob46@localhost', 'early').toString());
    const failed = await alice.next(isSm('failed'));
    expect(childNames(failed)).toEqual([`{${NS.STANZA_ERROR}}item-not-found`]);
    const error = await alice.next(isStreamError);
    expect(childNames(error).filter((name) => name !== `{${NS.STREAM_ERROR}}text`)).toEqual([
      `{${NS.STREAM_ERROR}}not-authorized`,
    ]);
    await alice.expectClosed();
  });
});
