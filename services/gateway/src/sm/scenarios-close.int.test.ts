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
  resumeWith,
  sleep,
  startSmScenarios,
  type SmScenarios,
} from '../testing/sm-scenarios.js';

// Spec §8 scenarios 24, 45, 47: clean close revokes (T4, §7.7), the queue cap on an ACTIVE session (T15),
// and the same over WebSocket (§7.17).

let sm: SmScenarios;

beforeAll(async () => {
  sm = await startSmScenarios({ users: ['alice24', 'alice45', 'bob45', 'alice47', 'bob47'] });
});

afterAll(async () => {
  await sm.stop();
});

const ping = (id: string): Element => xml('iq', { type: 'get', id }, xml('ping', { xmlns: NS.PING }));

const ackOf = (h: number): string => xml('a', { xmlns: SM, h: String(h) }).toString();

const itemNotFound = [`{${NS.STANZA_ERROR}}item-not-found`];

/** The clean close: exactly the final `<a/>` and then the end of the stream, and the SM-ID is gone. */
async function expectCleanClose(alice: SmClient, previd: string, h: number, user: string): Promise<void> {
  const before = alice.received.length;
  alice.closeStream();
  await alice.expectClosed();
  expect(alice.streamEnded).toBe(true);
  expect(alice.received.slice(before).map(String)).toEqual([ackOf(h)]);
  expect(alice.streamEndedAfter).toBe(before + 1);

  const again = await sm.authenticated(user);
  const failed = await resumeWith(again, previd, h);
  expect(failed.name).toBe('failed');
  expect(childNames(failed)).toEqual(itemNotFound);
  expect(failed.attrs.h).toBeUndefined();
}

describe('stream management: close and queue limit (spec §8)', () => {
  it('scenario 24: </stream:stream> gets the final <a/>, then </stream:stream>; the SM-ID is revoked', async () => {
    const alice = await sm.bound('alice24', 'phone');
    const previd = (await alice.enable()).attrs.id ?? '';
    alice.send(ping('p1'));
    await alice.next((e) => e.name === 'iq' && e.attrs.id === 'p1');
    await alice.next(isSm('r'), 1000);
    await expectCleanClose(alice, previd, 1, 'alice24');
  });

  it('scenario 45: the 6th unacked stanza ends the session with resource-constraint; all 6 go offline', async () => {
    const [alice, bob] = await Promise.all([sm.bound('alice45', 'phone'), sm.bound('bob45', 'desk')]);
    const previd = (await alice.enable()).attrs.id ?? '';
    const ids = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    for (const id of ids) bob.send(chat(alice.jid, id));

    const error = await alice.next(isStreamError);
    expect(childNames(error).filter((name) => name !== `{${NS.STREAM_ERROR}}text`)).toEqual([
      `{${NS.STREAM_ERROR}}resource-constraint`,
    ]);
    const beforeError = alice.received.slice(0, alice.received.indexOf(error));
    expect(beforeError.at(-1)?.toString()).toBe(ackOf(0));
    expect(beforeError.filter((e) => e.name === 'message').map((e) => e.attrs.id)).toEqual(ids.slice(0, 5));
    await alice.expectClosed();
    expect(alice.streamEnded).toBe(true);
    expect(await bob.sees((e) => e.attrs.type === 'error', 1000)).toBe(false);

    const again = await sm.authenticated('alice45');
    const failed = await resumeWith(again, previd, 0);
    expect(failed.name).toBe('failed');
    expect(childNames(failed)).toEqual(itemNotFound);
    expect(failed.attrs.h).toBe('0');
    await again.bind('laptop');
    again.send(xml('presence'));
    for (const id of ids) {
      const offline = await again.next(isMessage(id));
      expect(offline.attrs.from).toBe('bob45@localhost/desk');
      expect(offline.getChild('delay', NS.DELAY)).toBeDefined();
    }
    expect(again.received.filter((e) => e.name === 'message').map((e) => e.attrs.id)).toEqual(ids);
  });

  it('scenario 47: over WebSocket, <close/> revokes; a WebSocket closed without it is resumable', async () => {
    const closing = await sm.authenticatedWebSocket('alice47');
    await closing.bind('browser');
    const closingId = (await closing.enable()).attrs.id ?? '';
    expect(closingId).not.toBe('');
    await expectCleanClose(closing, closingId, 0, 'alice47');

    const [alice, bob] = await Promise.all([sm.authenticatedWebSocket('alice47'), sm.bound('bob47', 'desk')]);
    await alice.bind('browser');
    const previd = (await alice.enable()).attrs.id ?? '';
    bob.send(chat(alice.jid, 'm1'));
    await alice.next(isMessage('m1'));
    alice.kill();
    await sleep(200);
    bob.send(chat(alice.jid, 'm2'));

    const again = await sm.authenticatedWebSocket('alice47');
    const resumed = await resumeWith(again, previd, 0);
    expect(resumed.name).toBe('resumed');
    expect(resumed.attrs.h).toBe('0');
    await again.next(isMessage('m1'));
    await again.next(isMessage('m2'));
    expect(await again.requestAck()).toBe(0);
    expect(bob.received.some((e) => e.attrs.type === 'error')).toBe(false);
  });
});
