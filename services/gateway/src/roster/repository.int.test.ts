import { DuplicateKeyError, Store } from '@holdfast/store';
import { recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';
import { StanzaError } from '@holdfast/xmpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RosterItems, type RosterDocument } from '@holdfast/store';
import { RosterUpdateConflictError } from './errors.js';
import { newRosterItem, withState, type ItemChange, type RosterItem } from './model.js';
import { RosterRepository } from './repository.js';
import { decideRosterSet } from './roster-set.js';
import { decideSubscription } from './subscription.js';

const logger = recordingLogger();
const dbName = uniqueId('roster');
let store: Store;
/** A second connection: another gateway process writing the same items. */
let otherStore: Store;

beforeAll(async () => {
  const url = testInfrastructure().mongoUrl;
  store = await Store.open({ url, dbName, logger, appName: 'gateway/1' });
  otherStore = await Store.open({ url, dbName, logger, appName: 'gateway/2' });
  await store.ensureIndexes([RosterItems]);
});

afterAll(async () => {
  await store.db.dropDatabase();
  await otherStore.close();
  await store.close();
});

/** Each test works on its own owner, so tests do not see each other's items. */
function owner(): string {
  return `${uniqueId('u')}@home.example`;
}

function repository(on: Store = store, maxAttempts?: number): RosterRepository {
  return new RosterRepository(on, { logger, ...(maxAttempts !== undefined && { maxAttempts }) });
}

async function documents(ownerJid: string, jid: string): Promise<RosterDocument[]> {
  return store.collection(RosterItems).find({ owner: ownerJid, jid }).sort({ version: 1 }).toArray();
}

function rename(current: RosterItem | undefined, name: string): { change: ItemChange } {
  if (current === undefined) throw new Error('expected an item');
  return { change: { kind: 'put', item: { ...current, name } } };
}

/**
 * `store`, with `before` run ahead of its `insert` operations: another gateway's write landing between this
 * one's read and write, deterministically.
 */
function interceptedStore(before: () => Promise<void>): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'run') return Reflect.get(target, property, receiver) as unknown;
      return async (...args: Parameters<Store['run']>) => {
        if (args[1] === 'insert') await before();
        return target.run(...args);
      };
    },
  });
}

describe('RosterRepository on a real MongoDB-wire server', () => {
  it('puts, finds, lists by contact and removes items, keeping documents free of unset fields', async () => {
    const roster = repository();
    const alice = owner();
    const bob: RosterItem = { ...newRosterItem(alice, 'bob@away.example'), name: 'Bob', groups: ['Friends'] };
    const carol: RosterItem = {
      ...withState(newRosterItem(alice, 'carol@c.example'), 'None + Pending Out+In'),
      pendingInStatus: 'hello',
      approved: true,
    };
    await roster.put(carol);
    await roster.put(bob);
    expect(await roster.find(alice, 'bob@away.example')).toEqual(bob);
    expect(await roster.get(alice)).toEqual([bob, carol]);
    expect(await roster.get(owner())).toEqual([]);

    // An overwrite is the next version; the one before is pruned, and unset fields are not stored.
    await roster.put({ ...carol, ask: undefined, pendingIn: false, approved: undefined });
    const stored = await documents(alice, 'carol@c.example');
    expect(stored.map((doc) => doc.version)).toEqual([2]);
    expect(Object.keys(stored[0] ?? {}).sort()).toEqual(
      [
        '_id',
        'groups',
        'jid',
        'lineage',
        'listed',
        'owner',
        'pendingIn',
        'subscription',
        'version',
        'writer',
      ].sort(),
    );

    expect(await roster.remove(alice, 'bob@away.example')).toBe(true);
    expect(await roster.remove(alice, 'bob@away.example')).toBe(false);
    expect(await roster.find(alice, 'bob@away.example')).toBeUndefined();
    expect(await roster.get(alice)).toEqual([newRosterItem(alice, 'carol@c.example')]);
  });

  it('keeps a removal as the latest version, and continues the versions when the contact comes back', async () => {
    const roster = repository();
    const alice = owner();
    const bob = 'bob@away.example';
    await roster.put(newRosterItem(alice, bob));
    await roster.remove(alice, bob);
    expect((await documents(alice, bob)).map((doc) => [doc.version, doc.removed])).toEqual([[2, true]]);
    await roster.put({ ...newRosterItem(alice, bob), name: 'again' });
    expect((await documents(alice, bob)).map((doc) => [doc.version, doc.removed])).toEqual([[3, undefined]]);
    expect(await roster.find(alice, bob)).toMatchObject({ name: 'again' });
  });

  it('reads the latest version while older ones are not pruned yet', async () => {
    const alice = owner();
    const bob = 'bob@away.example';
    const old = {
      _id: `${alice}\n${bob}\n1`,
      owner: alice,
      jid: bob,
      version: 1,
      writer: 'w',
      lineage: ['w'],
    };
    const item = { groups: [] as string[], subscription: 'none' as const, pendingIn: false, listed: true };
    await store.collection(RosterItems).insertMany([
      { ...old, ...item, groups: ['old'] },
      { ...old, _id: `${alice}\n${bob}\n2`, version: 2, ...item, groups: ['new'] },
      { ...old, _id: `${alice}\ncarol@c.example\n1`, jid: 'carol@c.example', ...item },
      {
        ...old,
        _id: `${alice}\ncarol@c.example\n2`,
        jid: 'carol@c.example',
        version: 2,
        removed: true,
        ...item,
      },
    ]);
    const roster = repository();
    expect(await roster.find(alice, bob)).toMatchObject({ groups: ['new'] });
    expect(await roster.find(alice, 'carol@c.example')).toBeUndefined();
    expect((await roster.get(alice)).map((i) => [i.jid, i.groups])).toEqual([[bob, ['new']]]);
  });

  it('counts only listed items', async () => {
    const roster = repository();
    const alice = owner();
    await roster.put(newRosterItem(alice, 'a@x.example'));
    await roster.put({
      ...withState(newRosterItem(alice, 'b@x.example'), 'None + Pending In'),
      listed: false,
    });
    await roster.put(newRosterItem(alice, 'c@x.example'));
    await roster.remove(alice, 'c@x.example');
    expect(await roster.count(alice)).toBe(1);
  });

  it('applies decisions through update: a pending request, its approval, the removal', async () => {
    const roster = repository();
    const alice = owner();
    const bob = 'bob@away.example';
    const command = { user: alice, contact: bob } as const;

    const requested = await roster.update(alice, bob, (current) =>
      decideSubscription(current, { ...command, direction: 'inbound', type: 'subscribe' }),
    );
    expect(requested.after).toBe('None + Pending In');
    expect(await roster.find(alice, bob)).toMatchObject({ pendingIn: true, listed: false });

    const approved = await roster.update(alice, bob, (current) =>
      decideSubscription(current, { ...command, direction: 'outbound', type: 'subscribed' }),
    );
    expect(approved.after).toBe('From');
    expect(await roster.find(alice, bob)).toEqual({ ...newRosterItem(alice, bob), subscription: 'from' });

    const removed = await roster.update(alice, bob, (current) =>
      decideRosterSet({ kind: 'remove', jid: bob }, current, { user: alice, itemCount: 1 }),
    );
    expect(removed.change).toEqual({ kind: 'delete' });
    expect(await roster.find(alice, bob)).toBeUndefined();
  });

  it('lets an error from the decision end the update without a write', async () => {
    const roster = repository();
    const alice = owner();
    const failed = await roster
      .update(alice, 'nobody@x.example', (current) =>
        decideRosterSet({ kind: 'remove', jid: 'nobody@x.example' }, current, { user: alice, itemCount: 0 }),
      )
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(StanzaError);
    expect(failed).toMatchObject({ condition: 'item-not-found' });
    expect(await documents(alice, 'nobody@x.example')).toEqual([]);
  });

  it('decides again when another gateway changed the item between read and write', async () => {
    const alice = owner();
    const bob = 'bob@away.example';
    const other = repository(otherStore);
    await other.put(newRosterItem(alice, bob));
    let interfered = 0;
    const roster = new RosterRepository(
      interceptedStore(async () => {
        if (interfered++ === 0) await other.put({ ...newRosterItem(alice, bob), groups: ['theirs'] });
      }),
      { maxAttempts: 2, logger },
    );
    const seen: (RosterItem | undefined)[] = [];
    await roster.update(alice, bob, (current) => {
      seen.push(current);
      return rename(current, `mine ${seen.length}`);
    });
    expect(seen.map((item) => item?.groups)).toEqual([[], ['theirs']]);
    expect(await other.find(alice, bob)).toMatchObject({ name: 'mine 2', groups: ['theirs'] });
    expect(logger.records.some((r) => r.message === 'roster item changed concurrently; deciding again')).toBe(
      true,
    );
  });

  it('decides again when another gateway created the item between read and write', async () => {
    const alice = owner();
    const bob = 'bob@away.example';
    const other = repository(otherStore);
    let interfered = 0;
    const roster = new RosterRepository(
      interceptedStore(async () => {
        if (interfered++ === 0) await other.put({ ...newRosterItem(alice, bob), groups: ['theirs'] });
      }),
      { logger },
    );
    const seen: (RosterItem | undefined)[] = [];
    await roster.update(alice, bob, (current) => {
      seen.push(current);
      return rename(current ?? newRosterItem(alice, bob), 'mine');
    });
    expect(seen.map((item) => item?.groups)).toEqual([undefined, ['theirs']]);
    expect(await roster.find(alice, bob)).toMatchObject({ name: 'mine', groups: ['theirs'] });
  });

  it('decides again after an ABA: its version was written and pruned by others before its insert', async () => {
    const alice = owner();
    const bob = 'bob@away.example';
    const other = repository(otherStore);
    await other.put(newRosterItem(alice, bob));
    let interfered = 0;
    const roster = new RosterRepository(
      interceptedStore(async () => {
        if (interfered++ > 0) return;
        // Two writes by the other gateway: versions 2 and 3, and version 2 pruned. This writer read
        // version 1, so its insert of version 2 succeeds, below version 3.
        await other.put({ ...newRosterItem(alice, bob), groups: ['theirs'] });
        await other.put({ ...newRosterItem(alice, bob), groups: ['theirs', 'again'] });
      }),
      { logger },
    );
    const seen: (RosterItem | undefined)[] = [];
    await roster.update(alice, bob, (current) => {
      seen.push(current);
      return rename(current, `mine ${seen.length}`);
    });
    expect(seen.map((item) => item?.groups)).toEqual([[], ['theirs', 'again']]);
    expect(await roster.find(alice, bob)).toMatchObject({ name: 'mine 2', groups: ['theirs', 'again'] });
    expect((await documents(alice, bob)).map((doc) => doc.version)).toEqual([4]);
  });

  it('gives up after maxAttempts when every write meets another one, having written nothing', async () => {
    const alice = owner();
    const bob = 'bob@away.example';
    const other = repository(otherStore);
    await other.put(newRosterItem(alice, bob));
    let interfered = 0;
    const roster = new RosterRepository(
      interceptedStore(async () => {
        interfered++;
        await other.put({ ...newRosterItem(alice, bob), groups: [`theirs ${interfered}`] });
      }),
      { maxAttempts: 3, logger },
    );
    const gaveUp = await roster
      .update(alice, bob, (current) => rename(current, 'mine'))
      .catch((error: unknown) => error);
    expect(gaveUp).toBeInstanceOf(RosterUpdateConflictError);
    expect(gaveUp).toMatchObject({
      code: 'HF_ROSTER_UPDATE_CONFLICT',
      attempts: 3,
      owner: alice,
      contact: bob,
    });
    expect(interfered).toBe(3);
    expect(await other.find(alice, bob)).toEqual({ ...newRosterItem(alice, bob), groups: ['theirs 3'] });
  });

  it('recognises its own insert when a retried insert reports a duplicate key (lost reply)', async () => {
    const alice = owner();
    const bob = 'bob@away.example';
    await repository().put(newRosterItem(alice, bob));
    // The insert lands, its reply is lost, the retry meets the document it inserted.
    const lossy = new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'run') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<Store['run']>) => {
          const result = await target.run(...args);
          if (args[1] === 'insert') throw new DuplicateKeyError(RosterItems.name, undefined);
          return result;
        };
      },
    });
    let decisions = 0;
    await new RosterRepository(lossy, { logger }).update(alice, bob, (current) => {
      decisions++;
      return rename(current, 'once');
    });
    expect(decisions).toBe(1);
    expect(await repository().find(alice, bob)).toMatchObject({ name: 'once' });
    expect((await documents(alice, bob)).map((doc) => doc.version)).toEqual([2]);
  });

  it('loses no change when two gateways update the same item concurrently', async () => {
    const writers = 12;
    const gateways = [repository(store, 50), repository(otherStore, 50)];
    for (let round = 0; round < 3; round++) {
      const alice = owner();
      const bob = 'bob@away.example';
      await Promise.all(
        Array.from({ length: writers }, (_, index) =>
          (gateways[index % 2] as RosterRepository).update(alice, bob, (current) => {
            const item = current ?? newRosterItem(alice, bob);
            return {
              change: { kind: 'put', item: { ...item, groups: [...item.groups, `g${index}`] } } as const,
            };
          }),
        ),
      );
      const groups = (await repository().find(alice, bob))?.groups ?? [];
      expect([...groups].sort()).toEqual(Array.from({ length: writers }, (_, i) => `g${i}`).sort());
      // The latest version holds all twelve changes; older versions (and writes that lost a race after
      // an ABA) are pruned.
      const versions = (await documents(alice, bob)).map((doc) => doc.version);
      expect(versions.at(-1)).toBeGreaterThanOrEqual(writers);
      expect(await repository().get(alice)).toHaveLength(1);
    }
  });

  it('two gateways processing crossing requests end at "None + Pending Out+In"', async () => {
    const alice = owner();
    const bob = 'bob@away.example';
    const gateways = [repository(store, 20), repository(otherStore, 20)];
    // Alice asks Bob (outbound subscribe) on one gateway while Bob's request reaches her (inbound
    // subscribe) on the other: whatever the order, both changes are kept.
    const [outbound, inbound] = await Promise.all([
      (gateways[0] as RosterRepository).update(alice, bob, (current) =>
        decideSubscription(current, { direction: 'outbound', type: 'subscribe', user: alice, contact: bob }),
      ),
      (gateways[1] as RosterRepository).update(alice, bob, (current) =>
        decideSubscription(current, { direction: 'inbound', type: 'subscribe', user: alice, contact: bob }),
      ),
    ]);
    expect([outbound.after, inbound.after]).toContain('None + Pending Out+In');
    expect(await repository().find(alice, bob)).toEqual({
      ...newRosterItem(alice, bob),
      ask: 'subscribe',
      pendingIn: true,
    });
  });
});
