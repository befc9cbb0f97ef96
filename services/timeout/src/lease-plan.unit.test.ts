import { describe, expect, it } from 'vitest';

import { planLeases, type LeaseView } from './lease-plan.js';

const free = (count: number): LeaseView[] => Array.from({ length: count }, (_, partition) => ({ partition }));

describe('planLeases', () => {
  it('alone, an instance takes every free partition', () => {
    const plan = planLeases({ me: 'a', now: 0, leases: free(16), liveInstances: 1 });
    expect([...plan.claim].sort((x, y) => x - y)).toEqual(free(16).map((lease) => lease.partition));
    expect(plan.renew).toEqual([]);
    expect(plan.release).toEqual([]);
  });

  it('keeps what it holds and takes only up to its share', () => {
    const leases: LeaseView[] = free(16).map((lease) =>
      lease.partition < 3 ? { ...lease, owner: 'a', until: 100 } : lease,
    );
    const plan = planLeases({ me: 'a', now: 50, leases, liveInstances: 2 });
    expect(plan.renew).toEqual([0, 1, 2]);
    expect(plan.claim).toHaveLength(5);
    expect(plan.claim.every((partition) => partition >= 3)).toBe(true);
  });

  it('never claims a live lease of another instance; takes expired ones', () => {
    const leases: LeaseView[] = [
      { partition: 0, owner: 'b', until: 100 },
      { partition: 1, owner: 'b', until: 10 },
    ];
    const plan = planLeases({ me: 'a', now: 50, leases, liveInstances: 1 });
    expect(plan.claim).toEqual([1]);
  });

  it('gives back what exceeds its share when more instances are live', () => {
    const leases: LeaseView[] = free(16).map((lease) => ({ ...lease, owner: 'a', until: 100 }));
    const plan = planLeases({ me: 'a', now: 50, leases, liveInstances: 4 });
    expect(plan.renew).toEqual([0, 1, 2, 3]);
    expect(plan.release).toEqual(
      free(16)
        .slice(4)
        .map((lease) => lease.partition),
    );
    expect(plan.claim).toEqual([]);
  });

  it('counts itself when no instance record is visible yet', () => {
    const plan = planLeases({ me: 'a', now: 0, leases: free(4), liveInstances: 0 });
    expect(plan.claim).toHaveLength(4);
  });
});
