/**
 * Failed-authentication throttle: at most `maxFailures` per key (client address, account) within a
 * sliding window. Time is passed in, so the rule is testable without a clock. In-process state: each
 * gateway throttles what it sees, which bounds guessing per gateway and per address.
 */
export class FailureThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    /** Keys kept at most, so a flood of distinct addresses cannot grow memory without bound. */
    private readonly maxKeys = 100_000,
  ) {}

  blocked(key: string, now: number): boolean {
    return this.recent(key, now).length >= this.maxFailures;
  }

  record(key: string, now: number): void {
    const recent = this.recent(key, now);
    recent.push(now);
    this.failures.delete(key);
    this.failures.set(key, recent);
    if (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  private recent(key: string, now: number): number[] {
    const kept = (this.failures.get(key) ?? []).filter((at) => now - at < this.windowMs);
    if (kept.length === 0) this.failures.delete(key);
    else this.failures.set(key, kept);
    return kept;
  }
}
