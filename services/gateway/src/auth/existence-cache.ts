/**
 * Remembers whether accounts exist, so routing a stanza does not cost a database query each time.
 * Positive answers live longer than negative ones: a new account is reachable within `negativeTtlMs`,
 * a removed one is forgotten within `positiveTtlMs` (at once on the gateway that removed it).
 */
export class ExistenceCache {
  private readonly entries = new Map<string, { readonly exists: boolean; readonly until: number }>();

  constructor(
    private readonly options: {
      readonly positiveTtlMs: number;
      readonly negativeTtlMs: number;
      readonly maxEntries: number;
    },
  ) {}

  get(key: string, nowMs: number): boolean | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until > nowMs) return entry.exists;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, exists: boolean, nowMs: number): void {
    // Map iteration is insertion order: re-inserting keeps the oldest first for eviction.
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    const ttl = exists ? this.options.positiveTtlMs : this.options.negativeTtlMs;
    this.entries.set(key, { exists, until: nowMs + ttl });
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}
