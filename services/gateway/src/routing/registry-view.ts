import type { KV } from '@nats-io/kv';

/**
 * An in-process replica of the resource bucket, kept current by a KV watch, so routing a stanza does
 * not cost a round trip to NATS. It lags the bucket by the watch's delivery time (about a millisecond on
 * one network); writes of this process are applied at once. Routing that finds a resource gone re-reads
 * the bucket itself, and every write still goes through the bucket's compare-and-set.
 */
export class RegistryView<R> {
  /** Bare-JID key token → entry key → the newest revision seen and its record (undefined: removed). */
  private readonly byBare = new Map<string, Map<string, { revision: number; record: R | undefined }>>();
  private ready = false;
  private stopped = false;

  constructor(private readonly decode: (key: string, value: Uint8Array) => R | undefined) {}

  /** Starts watching; resolves once the initial values are in (or the watch failed: no view then). */
  async start(kv: KV, onError: (error: unknown) => void): Promise<void> {
    const { values } = await kv.status();
    const watch = await kv.watch({ key: '>' });
    let initial = 0;
    let markReady: () => void = () => undefined;
    const loaded = new Promise<void>((resolve) => (markReady = resolve));
    if (values === 0) {
      this.ready = true;
      markReady();
    }
    void (async () => {
      try {
        for await (const entry of watch) {
          if (this.stopped) break;
          if (entry.operation === 'PUT') {
            this.apply(entry.key, entry.revision, this.decode(entry.key, entry.value));
          } else {
            // The watch is ordered: nothing older of this key can come after its removal.
            this.forget(entry.key, entry.revision);
          }
          if (!entry.isUpdate) initial += 1;
          if (!this.ready && (entry.isUpdate || initial >= values)) {
            this.ready = true;
            markReady();
          }
        }
      } catch (error) {
        onError(error);
      } finally {
        // Without the watch the view goes stale: fall back to reading the bucket.
        this.ready = false;
        markReady();
      }
    })();
    await loaded;
  }

  stop(): void {
    this.stopped = true;
    this.ready = false;
  }

  /** The records under one bare JID, or undefined when the view cannot answer (not loaded, or failed). */
  recordsOf(bareToken: string): R[] | undefined {
    if (!this.ready) return undefined;
    const entries = this.byBare.get(bareToken);
    if (entries === undefined) return [];
    const records: R[] = [];
    for (const { record } of entries.values()) if (record !== undefined) records.push(record);
    return records;
  }

  private forget(key: string, revision: number): void {
    const bareToken = key.slice(0, key.indexOf('.'));
    const entries = this.byBare.get(bareToken);
    const current = entries?.get(key);
    if (entries === undefined || (current !== undefined && current.revision > revision)) return;
    entries.delete(key);
    if (entries.size === 0) this.byBare.delete(bareToken);
  }

  /**
   * A write (ours, or seen by the watch): kept if it is newer than what the view has. A removal by this
   * process is a marker until the watch delivers it, so an older value still on its way cannot revive it.
   */
  apply(key: string, revision: number, record: R | undefined): void {
    const bareToken = key.slice(0, key.indexOf('.'));
    let entries = this.byBare.get(bareToken);
    const current = entries?.get(key);
    if (current !== undefined && current.revision >= revision) return;
    if (entries === undefined) {
      entries = new Map();
      this.byBare.set(bareToken, entries);
    }
    entries.set(key, { revision, record });
  }
}
