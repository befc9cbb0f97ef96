import { describe, expect, it } from 'vitest';

import { boundDeadline } from './deadline-bounds.js';

const t0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number): Date => new Date(t0 + s * 1000);

describe('boundDeadline (spec §6 set_deadline)', () => {
  const base = { hibernationTimeS: 600, pushMaxHibernationS: 259_200 };

  it('takes a deadline within the push bound as asked', () => {
    const deadline = boundDeadline({ ...base, requested: at(86_400), hibernatedAt: at(0), now: at(10) });
    expect(deadline).toEqual(at(86_400));
  });

  it('clamps to hibernation start + push_max_hibernation_s', () => {
    const deadline = boundDeadline({ ...base, requested: at(10 * 86_400), hibernatedAt: at(0), now: at(10) });
    expect(deadline).toEqual(at(259_200));
  });

  it('late in a long hibernation, now + hibernation_time_s is the bound', () => {
    const deadline = boundDeadline({
      ...base,
      requested: at(400_000),
      hibernatedAt: at(0),
      now: at(259_100),
    });
    expect(deadline).toEqual(at(259_700));
  });

  it('an earlier (even past) deadline is taken: the session expires at once', () => {
    expect(boundDeadline({ ...base, requested: at(-5), hibernatedAt: at(0), now: at(10) })).toEqual(at(-5));
  });
});
