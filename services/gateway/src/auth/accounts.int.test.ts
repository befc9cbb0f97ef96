import { Store } from '@holdfast/store';
import { recordingLogger, testInfrastructure, uniqueId } from '@holdfast/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Accounts } from './accounts.js';

let stores: Store[];

beforeAll(async () => {
  const dbName = uniqueId('acc');
  const open = () => Store.open({ url: testInfrastructure().mongoUrl, dbName, logger: recordingLogger() });
  stores = [await open(), await open()];
});

afterAll(async () => {
  await stores[0]?.db.dropDatabase();
  await Promise.all(stores.map((store) => store.close()));
});

describe('Accounts', () => {
  it('adds, lists, changes and removes accounts, never storing the password', async () => {
    const [store] = stores;
    if (store === undefined) throw new Error('no store');
    const accounts = new Accounts(store, 'localhost');
    const now = new Date();
    expect(await accounts.add('Alice', 'pencil', now)).toBe(true);
    expect(await accounts.add('alice', 'other', now)).toBe(false);
    expect(await accounts.list()).toEqual(['alice@localhost']);
    const stored = JSON.stringify(
      await store.db.collection('users').findOne({ _id: 'alice@localhost' } as never),
    );
    expect(stored).not.toContain('pencil');
    expect(await accounts.credentials('alice@localhost')).toHaveProperty(
      ['SCRAM-SHA-256', 'iterations'],
      4096,
    );
    expect(await accounts.setPassword('alice', 'new', now)).toBe(true);
    expect(await accounts.setPassword('nobody', 'new', now)).toBe(false);
    expect(await accounts.remove('alice')).toBe(true);
    expect(await accounts.exists('alice@localhost')).toBe(false);
    expect(() => accounts.bareJid('a@b')).toThrow();
  });

  it('agrees on one fake-credential secret across processes, also when they race to create it', async () => {
    const secrets = await Promise.all(
      stores.flatMap((store) => [0, 1, 2].map(() => new Accounts(store, 'localhost').fakeCredentialSecret())),
    );
    const distinct = new Set(secrets.map((secret) => secret.toString('base64')));
    expect(distinct.size).toBe(1);
    expect(secrets[0]?.length).toBe(32);
  });
});
