import { Bus } from '@holdfast/bus';
import { OfflineMessages, Store } from '@holdfast/store';
import { recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';
import { xml } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { OfflineCounts } from './offline-counts.js';
import { OfflineStore } from './offline-store.js';

const logger = recordingLogger();
const infra = testInfrastructure();
const bucket = uniqueId('offline');
const now = new Date('2026-11-21T10:00:00.000Z');
let bus: Bus;
let store: Store;

beforeAll(async () => {
  bus = await Bus.connect({ url: infra.natsUrl, name: 'offline-test', node: 'test', logger });
  store = await Store.open({ url: infra.mongoUrl, dbName: uniqueId('offline'), logger });
  await store.ensureIndexes([OfflineMessages]);
});

afterAll(async () => {
  await store.db.dropDatabase();
  await store.close();
  await bus.drain();
});

function offline(capacity: number, database: string = store.db.databaseName) {
  const counts = new OfflineCounts(bus, database, { bucket });
  return { counts, offline: new OfflineStore(store, counts, 'localhost', capacity) };
}

const chat = (body: string) => xml('message', { type: 'chat', to: 'bob@localhost' }, xml('body', {}, body));
/** `count` chats with bodies `<prefix>0`, `<prefix>1`…, under ids of their own (`of` the owner). */
const batch = (of: string, prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => ({
    message: chat(`${prefix}${index}`),
    id: `${of}/${prefix}${index}`,
  }));
const bodies = (stored: { stanza: string }[]) =>
  stored.map(({ stanza }) => /<body>(.*)<\/body>/.exec(stanza)?.[1]);

describe('offline storage capacity (XEP-0160), counted in JetStream KV', () => {
  it('stores up to the capacity in order and answers full for the rest; a retried batch is stored and counted once', async () => {
    const owner = `${uniqueId('u')}@localhost`;
    const { offline: box } = offline(3);
    expect(await box.putAll(owner, batch(owner, 'a', 2), now)).toEqual(['stored', 'stored']);
    // The same ids again (a termination finished again after a crash): no new places taken.
    expect(await box.putAll(owner, batch(owner, 'a', 2), now)).toEqual(['stored', 'stored']);
    expect(await box.putAll(owner, batch(owner, 'b', 2), now)).toEqual(['stored', 'full']);
    expect(await box.put(owner, chat('c'), now)).toBe('full');
    expect(bodies(await box.peek(owner))).toEqual(['a0', 'a1', 'b0']);
  });

  it('gives the places of delivered messages back', async () => {
    const owner = `${uniqueId('u')}@localhost`;
    const { offline: box } = offline(2);
    await box.putAll(owner, batch(owner, 'a', 2), now);
    const held = await box.peek(owner);
    await box.remove(
      owner,
      held.slice(0, 1).map(({ id }) => id),
    );

    expect(await box.putAll(owner, batch(owner, 'b', 2), now)).toEqual(['stored', 'full']);
    expect(bodies(await box.peek(owner))).toEqual(['a1', 'b0']);
  });

  it('sets a count left too high (a crash between reservation and insert) right when the messages are read', async () => {
    const owner = `${uniqueId('u')}@localhost`;
    const { offline: box, counts } = offline(2);
    await box.put(owner, chat('a'), now);
    expect(await counts.reserve(owner, 1, 2)).toBe(1);
    expect(await box.put(owner, chat('b'), now)).toBe('full');
    expect(bodies(await box.peek(owner))).toEqual(['a']);
    expect(await box.put(owner, chat('c'), now)).toBe('stored');
  });

  it('keeps the counts of two databases apart', async () => {
    const owner = `${uniqueId('u')}@localhost`;
    const { counts: here } = offline(1);
    const { counts: there } = offline(1, uniqueId('other'));
    expect(await here.reserve(owner, 1, 1)).toBe(1);
    expect(await there.reserve(owner, 1, 1)).toBe(1);
    expect(await here.reserve(owner, 1, 1)).toBe(0);
  });
});
