// @ts-expect-error -- @xmpp/client 0.14 ships no type declarations; StockClient below types what is used.
import { client as createClient } from '@xmpp/client';
import { NS, xml, type Element } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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

// Spec §8 scenarios 40 and 42 (two gateways), and a stock client's own resume (xmpp.js
// @xmpp/stream-management) after its TCP connection died: scenarios 18-20 as a real client does them.

/** The part of an @xmpp/client instance this file drives. */
interface StockClient {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(element: Element): Promise<void>;
  on(event: 'stanza', listener: (stanza: Element) => void): void;
  on(event: 'error' | 'online', listener: () => void): void;
  /** The transport wrapper (TCP or TLS) and the Node socket in it. */
  socket: { socket: { destroy(): void } | null } | null;
  reconnect: { delay: number; stop(): void };
  streamManagement: {
    id: string;
    enabled: boolean;
    on(event: 'resumed', listener: () => void): void;
  };
}

let sm: SmScenarios;
const stock: StockClient[] = [];

beforeAll(async () => {
  sm = await startSmScenarios({
    gateways: 2,
    users: ['alice40', 'bob40', 'alice42', 'bob42', 'carol18', 'bob18x'],
  });
});

afterAll(async () => {
  for (const client of stock) {
    client.reconnect.stop();
    await client.stop().catch(() => undefined);
  }
  await sm.stop();
});

const ping = (id: string): Element => xml('iq', { type: 'get', id }, xml('ping', { xmlns: NS.PING }));

async function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: not within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('stream management across gateways (spec §8)', () => {
  it('scenario 40: killed on gateway A, resumed through gateway B with the right h and the queue', async () => {
    const [alice, bob] = await Promise.all([sm.bound('alice40', 'phone', 0), sm.bound('bob40', 'desk', 1)]);
    const previd = (await alice.enable()).attrs.id ?? '';
    for (const id of ['p1', 'p2']) alice.send(ping(id));
    await alice.next((e) => e.name === 'iq' && e.attrs.id === 'p2');
    bob.send(chat(alice.jid, 'm1'));
    await alice.next(isMessage('m1'));
    alice.kill();
    await sleep(200);
    bob.send(chat(alice.jid, 'm2'));
    bob.send(chat(alice.jid, 'm3'));
    await sleep(300);

    const again = await sm.authenticated('alice40', 1);
    // She handled both ping results, not m1.
    const resumed = await resumeWith(again, previd, 2);
    expect(resumed.attrs).toEqual({ xmlns: SM, previd, h: '2' });
    for (const id of ['m1', 'm2', 'm3']) {
      const message = await again.next(isMessage(id));
      expect(message.getChild('delay', NS.DELAY)?.attrs.from).toBe('alice40@localhost');
    }
    expect(again.stanzas.map((e) => e.attrs.id)).toEqual(['m1', 'm2', 'm3']);
    expect(await again.requestAck()).toBe(2);
    bob.send(chat(alice.jid, 'm4'));
    await again.next(isMessage('m4'));
  });

  it('stock client (xmpp.js): its connection dies, it reconnects and resumes, and gets what was sent meanwhile', async () => {
    const carol = (createClient as (options: object) => StockClient)({
      service: sm.cluster.service(0),
      domain: 'localhost',
      username: 'carol18',
      password: 'carol18-pw',
      resource: 'stock',
      // xmpp.js allows 2 s per step (TLS, stream open); a loaded test machine can take longer.
      timeout: 10_000,
    });
    stock.push(carol);
    carol.reconnect.delay = 100;
    const received: Element[] = [];
    carol.on('stanza', (stanza) => received.push(stanza));
    carol.on('error', () => undefined);
    await within('xmpp.js online', 10_000, carol.start());
    await within(
      'xmpp.js SM enabled',
      5000,
      (async () => {
        while (!carol.streamManagement.enabled) await sleep(20);
      })(),
    );
    const previd = carol.streamManagement.id;
    expect(previd).not.toBe('');

    const bob = await sm.bound('bob18x', 'desk', 1);
    bob.send(chat('carol18@localhost/stock', 'before'));
    await within(
      'first message',
      5000,
      (async () => {
        while (!received.some(isMessage('before'))) await sleep(20);
      })(),
    );
    const resumed = new Promise<void>((resolve) => {
      carol.streamManagement.on('resumed', resolve);
    });
    carol.socket?.socket?.destroy();
    await sleep(50);
    bob.send(chat('carol18@localhost/stock', 'while-down'));
    await within('xmpp.js resumed', 10_000, resumed);
    expect(carol.streamManagement.id).toBe(previd);
    await within(
      'message queued while down',
      5000,
      (async () => {
        while (!received.some(isMessage('while-down'))) await sleep(20);
      })(),
    );
    const queued = received.filter(isMessage('while-down'));
    expect(queued).toHaveLength(1);
    expect(queued[0]?.getChild('delay', NS.DELAY)?.attrs.from).toBe('carol18@localhost');
    expect(bob.received.some((e) => e.attrs.type === 'error' || e.attrs.type === 'unavailable')).toBe(false);
  });

  // Last: it drains gateway 1.
  it('scenario 42: a drain sends <a/> and system-shutdown; the session resumes on another gateway', async () => {
    const [alice, bob] = await Promise.all([sm.bound('alice42', 'phone', 1), sm.bound('bob42', 'desk', 0)]);
    const previd = (await alice.enable()).attrs.id ?? '';
    alice.send(ping('p1'));
    await alice.next((e) => e.name === 'iq' && e.attrs.id === 'p1');
    bob.send(chat(alice.jid, 'm1'));
    await alice.next(isMessage('m1'));
    const before = alice.received.length;

    const drained = sm.cluster.gateways[1]?.app.close();
    const error = await alice.next(isStreamError);
    expect(childNames(error).filter((name) => name !== `{${NS.STREAM_ERROR}}text`)).toEqual([
      `{${NS.STREAM_ERROR}}system-shutdown`,
    ]);
    await alice.expectClosed();
    expect(alice.received.slice(before).map(String)).toEqual([
      xml('a', { xmlns: SM, h: '1' }).toString(),
      error.toString(),
    ]);
    expect(alice.streamEnded).toBe(true);
    await within('drain', 10_000, drained ?? Promise.resolve());

    const again = await sm.authenticated('alice42', 0);
    const resumed = await resumeWith(again, previd, 1);
    expect(resumed.attrs).toEqual({ xmlns: SM, previd, h: '1' });
    await again.next(isSm('r'), 1000);
    bob.send(chat(alice.jid, 'm2'));
    await again.next(isMessage('m2'));
    // m1 was not covered by h: re-sent first.
    expect(again.stanzas.map((e) => e.attrs.id)).toEqual(['m1', 'm2']);
  });
});
