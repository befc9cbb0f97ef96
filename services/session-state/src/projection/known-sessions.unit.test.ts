import { partitionOf } from '@holdfast/events';
import { describe, expect, it } from 'vitest';

import { KnownSessions } from './known-sessions.js';

/** Session ids of one partition, found by trying names (the partition is a hash). */
function samePartition(count: number): string[] {
  const partition = partitionOf('s0');
  const found: string[] = [];
  for (let index = 0; found.length < count && index < 10_000; index++) {
    if (partitionOf(`s${index}`) === partition) found.push(`s${index}`);
  }
  return found;
}

describe('the projector’s own last writes', () => {
  it('keeps each session’s last write, newest replacing older', () => {
    const known = new KnownSessions();
    known.set('a', { lastSeq: 3, queueLength: 0 });
    known.set('a', { lastSeq: 7, queueFrom: 5, queueLength: 2 });
    expect(known.get('a')).toEqual({ lastSeq: 7, queueFrom: 5, queueLength: 2 });
    expect(known.get('b')).toBeUndefined();
    known.delete('a');
    expect(known.get('a')).toBeUndefined();
  });

  it('forgets a whole partition and only it', () => {
    const known = new KnownSessions();
    const [first, second] = samePartition(2);
    const other = ['x', 'y', 'z', 'w'].find((name) => partitionOf(name) !== partitionOf(first ?? ''));
    if (first === undefined || second === undefined || other === undefined) throw new Error('no sessions');
    for (const session of [first, second, other]) known.set(session, { lastSeq: 1, queueLength: 0 });
    known.forget(partitionOf(first));
    expect([known.get(first), known.get(second), known.get(other)]).toEqual([
      undefined,
      undefined,
      { lastSeq: 1, queueLength: 0 },
    ]);
  });

  it('past its size forgets the least recently written session of the partition', () => {
    const known = new KnownSessions(2);
    const [a, b, c] = samePartition(3);
    if (a === undefined || b === undefined || c === undefined) throw new Error('no sessions');
    known.set(a, { lastSeq: 1, queueLength: 0 });
    known.set(b, { lastSeq: 2, queueLength: 0 });
    known.set(a, { lastSeq: 3, queueLength: 0 });
    known.set(c, { lastSeq: 4, queueLength: 0 });
    expect([known.get(a)?.lastSeq, known.get(b), known.get(c)?.lastSeq]).toEqual([3, undefined, 4]);
  });
});
