import { Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@holdfast/bus';
import { encodeToken } from '@holdfast/events';
import { eventually, recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';

import { ResourceRegistry, ResourceRegistryError } from './registry.js';
import type { RegisteredResource } from './registry.js';

const bucket = uniqueId('HF_RESOURCES_');
const loggerA = recordingLogger();
const loggerB = recordingLogger();
let busA: Bus;
let busB: Bus;
/** Two gateways' views of one bucket. */
let gatewayA: ResourceRegistry;
let gatewayB: ResourceRegistry;
/** The raw bucket, for what no gateway would write. */
let raw: KV;

beforeAll(async () => {
  const url = testInfrastructure().natsUrl;
  busA = await Bus.connect({ url, name: 'registry-test-a', node: 'gw-a', logger: loggerA });
  busB = await Bus.connect({ url, name: 'registry-test-b', node: 'gw-b', logger: loggerB });
  gatewayA = await ResourceRegistry.open(busA, { bucket, logger: loggerA, view: true });
  gatewayB = await ResourceRegistry.open(busB, { bucket, logger: loggerB, view: true });
  raw = await new Kvm(busA.js).open(bucket);
});

afterAll(async () => {
  await raw.destroy();
  await busA.drain();
  await busB.drain();
});

/** A fresh account per test, so tests sharing the bucket never see each other's records. */
function account(): string {
  return `${uniqueId('u').toLowerCase()}@example.com`;
}

function record(jid: string, overrides: Partial<RegisteredResource> = {}): RegisteredResource {
  return {
    jid,
    gateway: 'gw-a',
    session: uniqueId('s'),
    priority: 0,
    available: false,
    boundAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

describe('claim', () => {
  it('binds a free full JID, visible at once to every gateway', async () => {
    const bare = account();
    const phone = record(`${bare}/phone`);
    const claimed = await gatewayA.claim(phone);
    expect(claimed).toEqual({ ok: true, revision: expect.any(Number) as number });
    expect(await gatewayA.resourcesOfNow(bare)).toEqual([phone]);
    expect(await gatewayB.resourcesOfNow(bare)).toEqual([phone]);
  });

  it('refuses a JID bound by another session and names the holder', async () => {
    const jid = `${account()}/phone`;
    const first = record(jid, { presence: '<presence/>', priority: 5, available: true });
    expect((await gatewayA.claim(first)).ok).toBe(true);
    expect(await gatewayB.claim(record(jid, { gateway: 'gw-b' }))).toEqual({ ok: false, holder: first });
  });

  it('stamps boundAt when the caller does not', async () => {
    const bare = account();
    const before = Date.now();
    await gatewayA.claim({
      jid: `${bare}/phone`,
      gateway: 'gw-a',
      session: 's',
      priority: 0,
      available: false,
    });
    const [stored] = await gatewayB.resourcesOfNow(bare);
    expect(Date.parse(stored?.boundAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
  });

  it('is idempotent for the session that holds the JID', async () => {
    const phone = record(`${account()}/phone`);
    const first = await gatewayA.claim(phone);
    const again = await gatewayA.claim({ ...phone, priority: 9 });
    expect(again).toEqual(first);
    expect((await gatewayA.resourcesOfNow(phone.jid.split('/')[0] ?? ''))[0]?.priority).toBe(0);
  });

  it('lets exactly one of 20 concurrent claims of one JID win, on both gateways', async () => {
    const jid = `${account()}/contested`;
    const contenders = Array.from({ length: 20 }, (_, i) =>
      record(jid, { gateway: i % 2 === 0 ? 'gw-a' : 'gw-b', session: `s-${i}` }),
    );
    const results = await Promise.all(
      contenders.map((contender, i) => (i % 2 === 0 ? gatewayA : gatewayB).claim(contender)),
    );
    const winners = results.flatMap((result, i) => (result.ok ? [contenders[i]] : []));
    expect(winners).toHaveLength(1);
    for (const result of results) {
      if (!result.ok) expect(result.holder).toEqual(winners[0]);
    }
    expect(await gatewayB.resourcesOfNow(jid.slice(0, jid.indexOf('/')))).toEqual(winners);
  });

  it('binds again once the holder released, over the release marker', async () => {
    const jid = `${account()}/phone`;
    const first = record(jid);
    await gatewayA.claim(first);
    expect(await gatewayA.release(jid, first.session)).toBeDefined();
    const second = record(jid, { gateway: 'gw-b' });
    expect((await gatewayB.claim(second)).ok).toBe(true);
    expect(await gatewayA.resourcesOfNow(jid.slice(0, jid.indexOf('/')))).toEqual([second]);
  });

  it('refuses what is not a full JID, and binds JIDs whose escaped parts exceed a NATS control line', async () => {
    const bare = account();
    await expect(gatewayA.claim(record(bare))).rejects.toMatchObject({ code: 'HF_REGISTRY_JID_INVALID' });
    await expect(gatewayA.claim(record(`${bare}/`))).rejects.toMatchObject({
      code: 'HF_REGISTRY_JID_INVALID',
    });
    await expect(gatewayA.claim(record(`/${bare}`))).rejects.toBeInstanceOf(ResourceRegistryError);
    // 1000 'ü' escape to 6000 characters: hashed into the key, still one record per full JID.
    const huge = record(`${bare}/${'ü'.repeat(1000)}`);
    expect((await gatewayA.claim(huge)).ok).toBe(true);
    expect((await gatewayB.claim({ ...huge, session: 'other' })).ok).toBe(false);
    const longBare = `${'.'.repeat(1000)}x@localhost`;
    const longUser = record(`${longBare}/r`);
    expect((await gatewayA.claim(longUser)).ok).toBe(true);
    expect((await gatewayB.resourcesOfNow(longBare)).map((r) => r.jid)).toEqual([longUser.jid]);
    expect(busA.nc.isClosed()).toBe(false);
  });
});

describe('update', () => {
  it('changes priority, availability and presence of the holding session only', async () => {
    const bare = account();
    const phone = record(`${bare}/phone`);
    await gatewayA.claim(phone);
    expect(await gatewayB.update(phone.jid, 'someone-else', { priority: 100 })).toBe(false);
    expect(
      await gatewayA.update(phone.jid, phone.session, {
        priority: -1,
        available: true,
        presence: '<presence/>',
      }),
    ).toBe(true);
    expect(await gatewayB.resourcesOfNow(bare)).toEqual([
      { ...phone, priority: -1, available: true, presence: '<presence/>' },
    ]);
    expect(await gatewayA.update(phone.jid, phone.session, { available: false, presence: undefined })).toBe(
      true,
    );
    expect(await gatewayB.resourcesOfNow(bare)).toEqual([{ ...phone, priority: -1, available: false }]);
    expect(await gatewayA.update(phone.jid, phone.session, {})).toBe(true);
    expect(await gatewayB.resourcesOfNow(bare)).toEqual([{ ...phone, priority: -1, available: false }]);
  });

  it('is false for a JID that is not bound, or no longer', async () => {
    const phone = record(`${account()}/phone`);
    expect(await gatewayA.update(phone.jid, phone.session, { priority: 1 })).toBe(false);
    await gatewayA.claim(phone);
    await gatewayA.release(phone.jid, phone.session);
    expect(await gatewayA.update(phone.jid, phone.session, { priority: 1 })).toBe(false);
  });

  it('retries a lost compare-and-set: 10 concurrent updates all land, none is lost to a stale write', async () => {
    const bare = account();
    const phone = record(`${bare}/phone`, { available: true });
    await gatewayA.claim(phone);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? gatewayA : gatewayB).update(phone.jid, phone.session, { priority: i }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 10 }, () => true));
    const [stored] = await gatewayA.resourcesOfNow(bare);
    expect(stored?.priority).toBeGreaterThanOrEqual(0);
    expect(stored?.priority).toBeLessThan(10);

    // Two updates of different fields: neither may overwrite the other with a stale copy of the record.
    await Promise.all([
      gatewayA.update(phone.jid, phone.session, { presence: '<presence><show>away</show></presence>' }),
      gatewayB.update(phone.jid, phone.session, { priority: 42 }),
    ]);
    expect(await gatewayA.resourcesOfNow(bare)).toEqual([
      { ...phone, priority: 42, presence: '<presence><show>away</show></presence>' },
    ]);
  });

  it('does not resurrect a record released while updates race with the release', async () => {
    const bare = account();
    const phone = record(`${bare}/phone`);
    await gatewayA.claim(phone);
    const results = await Promise.all([
      ...Array.from({ length: 5 }, (_, i) => gatewayB.update(phone.jid, phone.session, { priority: i })),
      gatewayA.release(phone.jid, phone.session),
    ]);
    expect(results.at(-1)).toMatchObject({ jid: phone.jid, session: phone.session });
    expect(await gatewayA.resourcesOfNow(bare)).toEqual([]);
  });
});

describe('release', () => {
  it('removes a record only for the session holding it', async () => {
    const bare = account();
    const phone = record(`${bare}/phone`);
    await gatewayA.claim(phone);
    expect(await gatewayB.release(phone.jid, 'someone-else')).toBeUndefined();
    expect(await gatewayB.resourcesOfNow(bare)).toEqual([phone]);
    expect(await gatewayB.release(phone.jid, phone.session)).toBeDefined();
    expect(await gatewayA.resourcesOfNow(bare)).toEqual([]);
    expect(await gatewayA.release(phone.jid, phone.session)).toBeUndefined();
  });

  it('leaves a JID alone that another session bound after the old one released', async () => {
    const jid = `${account()}/phone`;
    const old = record(jid);
    const next = record(jid, { gateway: 'gw-b' });
    await gatewayA.claim(old);
    await gatewayA.release(jid, old.session);
    await gatewayB.claim(next);
    expect(await gatewayA.release(jid, old.session)).toBeUndefined();
    expect(await gatewayA.resourcesOfNow(jid.slice(0, jid.indexOf('/')))).toEqual([next]);
  });

  it('of 10 concurrent releases by the holder, exactly one removes the record', async () => {
    const phone = record(`${account()}/phone`);
    await gatewayA.claim(phone);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? gatewayA : gatewayB).release(phone.jid, phone.session),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('resourcesOf', () => {
  it('lists every resource of one account and nothing of accounts whose keys share a prefix', async () => {
    const local = uniqueId('u').toLowerCase();
    const bare = `${local}@example.com`;
    const mine = [record(`${bare}/a`), record(`${bare}/b`, { gateway: 'gw-b' }), record(`${bare}/c`)];
    const others = [
      record(`${local}2@example.com/a`),
      record(`${local}@example.com.evil/a`),
      record(`${local}@example.co/a`),
    ];
    for (const each of [...mine, ...others]) expect((await gatewayA.claim(each)).ok).toBe(true);
    const listed = await gatewayB.resourcesOfNow(bare);
    expect(listed).toHaveLength(3);
    expect(listed).toEqual(expect.arrayContaining(mine));
  });

  it('is empty for an account without resources', async () => {
    expect(await gatewayA.resourcesOfNow(account())).toEqual([]);
  });

  it('round-trips JIDs with dots, @, slashes, spaces and non-ASCII in them', async () => {
    const bare = `${uniqueId('jürgen.o').toLowerCase()}@xn--exmple-cua.com`;
    const jids = [
      `${bare}/Küche 1.2`,
      `${bare}/a/b@c.d`,
      `${bare}/📱.phone`,
      `${bare}/.`,
      `${bare}/=2E`,
      `${bare}/*`,
      `${bare}/>`,
    ];
    for (const jid of jids) expect((await gatewayA.claim(record(jid))).ok).toBe(true);
    const listed = await gatewayB.resourcesOfNow(bare);
    // `.` and `=2E` are different resources: the key encoding is injective.
    expect(listed.map((each) => each.jid).sort()).toEqual([...jids].sort());
  });

  it('skips, and logs, a record no gateway can read', async () => {
    const bare = account();
    const phone = record(`${bare}/phone`);
    await gatewayA.claim(phone);
    await raw.put(`${encodeToken(bare)}.${encodeToken('broken')}`, '{"v":99}');
    await raw.put(`${encodeToken(bare)}.${encodeToken('garbage')}`, 'not json');
    expect(await gatewayB.resourcesOfNow(bare)).toEqual([phone]);
    expect(loggerB.records.filter((r) => r.message === 'unreadable resource record skipped')).toHaveLength(2);
    await expect(gatewayA.update(`${bare}/broken`, 'any', {})).rejects.toMatchObject({
      code: 'HF_REGISTRY_RECORD_INVALID',
    });
  });
});

describe('releaseAllOf', () => {
  it('removes every record of a dead gateway and nothing else', async () => {
    const dead = uniqueId('gw-dead');
    const alive = uniqueId('gw-alive');
    const alice = account();
    const bob = account();
    const doomed = [
      record(`${alice}/one`, { gateway: dead }),
      record(`${alice}/two`, { gateway: dead }),
      record(`${bob}/one`, { gateway: dead }),
    ];
    const survivor = record(`${bob}/two`, { gateway: alive });
    for (const each of [...doomed, survivor]) await gatewayA.claim(each);
    expect(await gatewayB.releaseAllOf(dead)).toBe(3);
    expect(await gatewayA.resourcesOfNow(alice)).toEqual([]);
    expect(await gatewayA.resourcesOfNow(bob)).toEqual([survivor]);
    expect(await gatewayB.releaseAllOf(dead)).toBe(0);
    expect(await gatewayB.releaseAllOf(uniqueId('gw-never'))).toBe(0);
  });

  it('handles more records than one batch of deletes', async () => {
    const dead = uniqueId('gw-dead');
    const bare = account();
    const count = 150;
    await Promise.all(
      Array.from({ length: count }, (_, i) => gatewayA.claim(record(`${bare}/r${i}`, { gateway: dead }))),
    );
    expect(await gatewayB.releaseAllOf(dead)).toBe(count);
    expect(await gatewayA.resourcesOfNow(bare)).toEqual([]);
  });
});

describe('open', () => {
  it('binds to an existing bucket and refuses one created without per-message TTLs', async () => {
    const again = await ResourceRegistry.open(busB, { bucket, logger: loggerB });
    const phone = record(`${account()}/phone`);
    await gatewayA.claim(phone);
    expect(await again.resourcesOfNow(phone.jid.slice(0, phone.jid.indexOf('/')))).toEqual([phone]);

    const plain = uniqueId('HF_PLAIN_');
    const kv = await new Kvm(busA.js).create(plain, { history: 1 });
    try {
      await expect(ResourceRegistry.open(busA, { bucket: plain, logger: loggerA })).rejects.toMatchObject({
        code: 'HF_REGISTRY_BUCKET_INCOMPATIBLE',
      });
    } finally {
      await kv.destroy();
    }
  });
});

describe('routing view', () => {
  it("shows this gateway's own writes at once and another gateway's shortly after", async () => {
    const bare = account();
    const phone = record(`${bare}/phone`);
    await gatewayA.claim(phone);
    expect(await gatewayA.resourcesOf(bare)).toEqual([phone]);
    await eventually(async () => ((await gatewayB.resourcesOf(bare)).length === 1 ? true : undefined), {
      timeoutMs: 2000,
      intervalMs: 5,
    });
    expect(await gatewayB.resourcesOf(bare)).toEqual([phone]);

    await gatewayB.update(phone.jid, phone.session, { available: true, priority: 3 });
    expect(await gatewayB.resourcesOf(bare)).toEqual([{ ...phone, available: true, priority: 3 }]);
    await eventually(async () => ((await gatewayA.resourcesOf(bare))[0]?.priority === 3 ? true : undefined), {
      timeoutMs: 2000,
      intervalMs: 5,
    });

    expect(await gatewayA.release(phone.jid, phone.session)).toBeDefined();
    expect(await gatewayA.resourcesOf(bare)).toEqual([]);
    await eventually(async () => ((await gatewayB.resourcesOf(bare)).length === 0 ? true : undefined), {
      timeoutMs: 2000,
      intervalMs: 5,
    });
  });
});
