import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { startFerretDb } from '@holdfast/localinfra';
import { recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { defineCollection } from './collection.js';
import { Users } from './collections.js';
import { DuplicateKeyError, StoreUnavailableError, duplicateKeyCount } from './errors.js';
import { Store } from './store.js';

interface Lease {
  _id: string;
  owner: string;
  slot: number;
  version: number;
}
const Leases = defineCollection<Lease>({
  name: 'leases',
  indexes: [
    { name: 'slot_unique', key: { slot: 1 }, unique: true },
    { name: 'owner_slot', key: { owner: 1, slot: -1 } },
  ],
});

const logger = recordingLogger();
let store: Store;

beforeAll(async () => {
  store = await Store.open({ url: testInfrastructure().mongoUrl, dbName: uniqueId('db'), logger });
  await store.ensureIndexes([Leases]);
});

afterAll(async () => {
  await store.db.dropDatabase();
  await store.close();
});

describe('store on a real MongoDB-wire server', () => {
  it('round-trips a document', async () => {
    const now = new Date('2026-11-21T10:00:00.000Z');
    const credential = { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2s=' };
    await store.run(Users, 'insert', (users) =>
      users.insertOne({
        _id: 'alice@home.example',
        scram: { 'SCRAM-SHA-1': credential, 'SCRAM-SHA-256': credential },
        createdAt: now,
        updatedAt: now,
      }),
    );
    const found = await store.run(Users, 'find', (users) => users.findOne({ _id: 'alice@home.example' }));
    expect(found?.scram['SCRAM-SHA-256'].iterations).toBe(4096);
    expect(found?.createdAt).toEqual(now);
  });

  it('creates declared indexes idempotently', async () => {
    await store.ensureIndexes([Leases]);
    const indexes = await store.collection(Leases).listIndexes().toArray();
    const summary = (indexes as { name: string; unique?: boolean }[]).map((index) => [
      index.name,
      index.unique === true,
    ]);
    expect(summary.sort()).toEqual([
      ['_id_', false],
      ['owner_slot', false],
      ['slot_unique', true],
    ]);
  });

  it('reports a unique index violation as a typed DuplicateKeyError and keeps the first document', async () => {
    await store.run(Leases, 'insert', (c) => c.insertOne({ _id: 'a', owner: 'n1', slot: 1, version: 1 }));
    const secondary = await store
      .run(Leases, 'insert', (c) => c.insertOne({ _id: 'b', owner: 'n2', slot: 1, version: 1 }))
      .catch((error: unknown) => error);
    expect(secondary).toBeInstanceOf(DuplicateKeyError);
    expect(secondary).toMatchObject({ code: 'HF_STORE_DUPLICATE_KEY', collection: 'leases' });
    const primary = await store
      .run(Leases, 'insert', (c) => c.insertOne({ _id: 'a', owner: 'n3', slot: 2, version: 1 }))
      .catch((error: unknown) => error);
    expect(primary).toBeInstanceOf(DuplicateKeyError);
    expect(await store.collection(Leases).find({}).sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'a', owner: 'n1', slot: 1, version: 1 },
    ]);
  });

  it('reports an unordered bulk insert that met documents already there as duplicates only, the rest stored', async () => {
    const lease = (id: string, slot: number): Lease => ({ _id: id, owner: 'bulk', slot, version: 1 });
    await store.run(Leases, 'insert', (c) => c.insertMany([lease('m1', 11), lease('m2', 12)]));
    const replayed = await store
      .run(Leases, 'insert', (c) =>
        c.insertMany([lease('m1', 11), lease('m3', 13), lease('m2', 12)], { ordered: false }),
      )
      .catch((error: unknown) => error);
    expect(replayed).toBeInstanceOf(DuplicateKeyError);
    expect(duplicateKeyCount(replayed as DuplicateKeyError)).toBe(2);
    const ids = (await store.collection(Leases).find({ owner: 'bulk' }).toArray()).map((doc) => doc._id);
    expect(ids.sort()).toEqual(['m1', 'm2', 'm3']);
  });
});

describe('retries across a real outage', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'holdfast-store-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes an operation started while the server was down, and gives up after its budget', async () => {
    const first = await startFerretDb({ dataDir: dir });
    const outageLogger = recordingLogger();
    const own = await Store.open({
      url: first.url,
      dbName: 'outage',
      logger: outageLogger,
      serverSelectionTimeoutMS: 300,
      retry: { budgetMs: 15_000, maxDelayMs: 250 },
    });
    try {
      await own.run(Leases, 'insert', (c) => c.insertOne({ _id: 'before', owner: 'n', slot: 1, version: 1 }));
      await first.process.kill();

      // Settled into a value at once so that an early failure is asserted below, not reported as unhandled.
      const pending = own
        .run(Leases, 'upsert', (c) =>
          c.updateOne({ _id: 'during' }, { $set: { owner: 'n', slot: 2, version: 1 } }, { upsert: true }),
        )
        .then(
          () => 'done',
          (error: unknown) => error,
        );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const second = await startFerretDb({ dataDir: dir, port: first.port });
      try {
        expect(await pending).toBe('done');
        expect(outageLogger.records.some((r) => r.message === 'transient store error; retrying')).toBe(true);
        expect((await own.collection(Leases).find({}).sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([
          'before',
          'during',
        ]);

        await second.process.kill();
        const short = await Store.open({
          url: first.url,
          dbName: 'outage',
          logger: recordingLogger(),
          serverSelectionTimeoutMS: 200,
          retry: { budgetMs: 1000 },
        }).catch((error: unknown) => error);
        expect(short).toBeInstanceOf(StoreUnavailableError);
      } finally {
        await second.process.stop();
      }
    } finally {
      await own.close();
      await first.process.stop();
    }
  });
});
