/** One partition's lease as last read: who holds it and until when (epoch ms). */
export interface LeaseView {
  readonly partition: number;
  readonly owner?: string | undefined;
  readonly until?: number | undefined;
}

export interface LeasePlan {
  /** Held by this instance and kept: renew. */
  readonly renew: readonly number[];
  /** Free or expired: try to take. */
  readonly claim: readonly number[];
  /** Held by this instance beyond its share: give back so another instance takes it. */
  readonly release: readonly number[];
}

/**
 * How many timer partitions this instance should hold and which: an even share
 * (`ceil(partitions / live instances)`), keeping what it holds first (its timers are loaded), taking
 * free or expired leases up to the share, giving back the excess when more instances arrive. Taking is
 * a compare-and-set, so two instances planning the same free partition cannot both get it.
 */
export function planLeases(input: {
  readonly me: string;
  readonly now: number;
  readonly leases: readonly LeaseView[];
  readonly liveInstances: number;
}): LeasePlan {
  const share = Math.ceil(input.leases.length / Math.max(1, input.liveInstances));
  const mine = input.leases.filter((lease) => lease.owner === input.me).map((lease) => lease.partition);
  const renew = mine.slice(0, share);
  const release = mine.slice(share);
  const free = input.leases
    .filter(
      (lease) => lease.owner !== input.me && (lease.owner === undefined || (lease.until ?? 0) <= input.now),
    )
    .map((lease) => lease.partition);
  // Start where others are less likely to: spread claims by rotating on the instance name.
  const offset = free.length === 0 ? 0 : hash(input.me) % free.length;
  const rotated = [...free.slice(offset), ...free.slice(0, offset)];
  return { renew, claim: rotated.slice(0, Math.max(0, share - renew.length)), release };
}

function hash(text: string): number {
  let value = 0;
  for (let index = 0; index < text.length; index++)
    value = (Math.imul(value, 31) + text.charCodeAt(index)) >>> 0;
  return value;
}
