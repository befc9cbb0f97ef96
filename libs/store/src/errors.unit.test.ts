import { MongoNetworkError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';

import { DuplicateKeyError, isTransient, duplicateKeyCount, toStoreError } from './errors.js';

describe('error classification', () => {
  it('treats network trouble, failover codes and raw socket errors as transient', () => {
    expect(isTransient(new MongoNetworkError('connection closed'))).toBe(true);
    expect(isTransient(new MongoServerError({ code: 10107, errmsg: 'not writable primary' }))).toBe(true);
    const epipe = Object.assign(new Error('This socket has been ended by the other party'), {
      code: 'EPIPE',
    });
    expect(isTransient(epipe)).toBe(true);
  });

  it('does not retry what cannot succeed by retrying', () => {
    expect(isTransient(new MongoServerError({ code: 11000, errmsg: 'E11000 duplicate key error' }))).toBe(
      false,
    );
    expect(isTransient(new MongoServerError({ code: 2, errmsg: 'bad value' }))).toBe(false);
    expect(isTransient(new Error('plain'))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });

  it('maps duplicate keys and names the index when the server does (MongoDB does, FerretDB does not)', () => {
    const mongo = new MongoServerError({
      code: 11000,
      errmsg: 'E11000 duplicate key error collection: db.leases index: slot_unique dup key: { slot: 1 }',
    });
    const mapped = toStoreError(mongo, 'leases');
    expect(mapped).toBeInstanceOf(DuplicateKeyError);
    expect(mapped).toMatchObject({ index: 'slot_unique', collection: 'leases', cause: mongo });
    const ferret = new MongoServerError({
      code: 11000,
      errmsg: 'E11000 duplicate key error collection: db.leases',
    });
    expect(toStoreError(ferret, 'leases')).toMatchObject({ index: undefined });
    const other = new Error('other');
    expect(toStoreError(other, 'leases')).toBe(other);
  });

  it('counts the documents a write found already there, and none if any other failure came with them', () => {
    const bulk = (...codes: number[]) =>
      new DuplicateKeyError('offline', undefined, {
        cause: { code: 11000, writeErrors: codes.map((code) => ({ code })) },
      });
    expect(duplicateKeyCount(bulk(11000, 11000))).toBe(2);
    expect(duplicateKeyCount(bulk(11000, 2))).toBeUndefined();
    const single = (code: number) => new DuplicateKeyError('offline', undefined, { cause: { code } });
    expect(duplicateKeyCount(single(11000))).toBe(1);
    expect(duplicateKeyCount(single(2))).toBeUndefined();
  });
});
