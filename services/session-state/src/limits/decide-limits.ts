/** A hibernating session of one user, as the projection holds it. */
export interface Hibernating {
  readonly session: string;
  readonly version: number;
  readonly hibernatedAt: Date;
}

/** A kept h-record of one user (spec §5). */
export interface KeptRecord {
  readonly session: string;
  readonly terminatedAt: Date;
}

/**
 * Spec §5 `max_hibernated_sessions` [ours]: when a session starts hibernating and the user has more than
 * `max` hibernating, the ones that have hibernated longest are evicted (T11, h kept). Ties by session id,
 * so every instance picks the same victims.
 */
export function decideEvictions(hibernating: readonly Hibernating[], max: number): Hibernating[] {
  const excess = hibernating.length - Math.max(1, max);
  if (excess <= 0) return [];
  return [...hibernating]
    .sort((a, b) => a.hibernatedAt.getTime() - b.hibernatedAt.getTime() || a.session.localeCompare(b.session))
    .slice(0, excess);
}

/**
 * Spec §5 `max_old_sessions` [ours: pruned on every insert]: keep the newest `max` h-records of a user by
 * termination time; the older ones are deleted (a resume then gets `item-not-found` without `h`).
 */
export function decidePrunes(records: readonly KeptRecord[], max: number): KeptRecord[] {
  const keep = Math.max(0, max);
  if (records.length <= keep) return [];
  return [...records]
    .sort((a, b) => b.terminatedAt.getTime() - a.terminatedAt.getTime() || b.session.localeCompare(a.session))
    .slice(keep);
}
