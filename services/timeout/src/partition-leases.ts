import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { Bus, BusLogger } from '@holdfast/bus';
import { SESSION_PARTITIONS, encodeToken } from '@holdfast/events';

import { planLeases, type LeaseView } from './lease-plan.js';

export const DEFAULT_LEASES_BUCKET = 'HF_TIMEOUT_LEASES';

interface LeaseRecord {
  readonly owner: string;
  /** Epoch ms until which the owner holds it without renewing. */
  readonly until: number;
}

export interface PartitionLeasesOptions {
  readonly node: string;
  readonly leaseMs: number;
  readonly logger: BusLogger;
  /** A partition became this instance's (load its timers) or stopped being it (drop them). */
  readonly onAcquire: (partition: number) => Promise<void>;
  readonly onRelease: (partition: number) => Promise<void>;
  readonly bucket?: string;
  readonly replicas?: number;
}

/**
 * Leases on the session partitions' timers, in the JetStream KV bucket `HF_TIMEOUT_LEASES`: key
 * `p.<partition>` = `{owner, until}`, taken and renewed by compare-and-set on the key's revision; key
 * `i.<node>` = an instance's own `until`, so every instance knows how many share the work
 * (`planLeases`). Every third of `leaseMs` an instance renews what it keeps, takes free or expired
 * partitions up to its share and gives back the excess; a crashed instance's partitions are free after
 * at most `leaseMs`. A lease is only an efficiency: whoever fires a timer, the termination itself is
 * fenced on the session's log, so a partition briefly held twice cannot end a session twice.
 */
export class PartitionLeases {
  private kv: KV | undefined;
  private readonly held = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly bus: Bus,
    private readonly options: PartitionLeasesOptions,
  ) {}

  /** Partitions held now. */
  get partitions(): readonly number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Opens the bucket and takes a first share before resolving. */
  async start(): Promise<void> {
    this.kv = await new Kvm(this.bus.js).create(this.options.bucket ?? DEFAULT_LEASES_BUCKET, {
      description: 'Holdfast: which timeout instance fires the hibernation timers of which session partition',
      history: 1,
      replicas: this.options.replicas ?? 1,
    });
    await this.round();
    this.schedule();
  }

  /** Stops renewing and gives every held partition back, so the others take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    const kv = this.kv;
    for (const [partition, revision] of [...this.held]) {
      this.held.delete(partition);
      await this.options.onRelease(partition);
      await kv?.delete(partitionKey(partition), { previousSeq: revision }).catch(() => undefined);
    }
    await kv?.delete(instanceKey(this.options.node)).catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.running = this.round()
          .catch((error: unknown) => {
            this.options.logger.warn({ err: error }, 'timer leases: round failed, will retry');
          })
          .finally(() => {
            this.schedule();
          });
      },
      Math.max(100, Math.floor(this.options.leaseMs / 3)),
    );
  }

  private async round(): Promise<void> {
    const kv = this.kv;
    if (kv === undefined || this.stopped) return;
    const now = Date.now();
    const until = now + this.options.leaseMs;
    await kv.put(instanceKey(this.options.node), JSON.stringify({ until }));
    const live = await this.liveInstances(kv, now);
    const entries = new Map<number, KvEntry | null>();
    for (let partition = 0; partition < SESSION_PARTITIONS; partition++) {
      entries.set(partition, await kv.get(partitionKey(partition)));
    }
    const leases: LeaseView[] = [...entries].map(([partition, entry]) => ({ partition, ...recordOf(entry) }));
    const plan = planLeases({ me: this.options.node, now, leases, liveInstances: live });
    const record = JSON.stringify({ owner: this.options.node, until } satisfies LeaseRecord);

    for (const partition of plan.renew) {
      const revision = entries.get(partition)?.revision ?? 0;
      try {
        await this.hold(partition, await kv.update(partitionKey(partition), record, revision));
      } catch {
        await this.lose(partition);
      }
    }
    for (const partition of plan.claim) {
      const entry = entries.get(partition);
      let revision: number;
      try {
        revision =
          entry === null || entry === undefined || entry.operation !== 'PUT'
            ? await createOrReplaceDeleted(kv, partitionKey(partition), record, entry)
            : await kv.update(partitionKey(partition), record, entry.revision);
      } catch {
        continue; // Another instance took it first.
      }
      await this.hold(partition, revision);
    }
    for (const partition of plan.release) {
      const revision = this.held.get(partition);
      await this.lose(partition);
      if (revision !== undefined) {
        await kv.delete(partitionKey(partition), { previousSeq: revision }).catch(() => undefined);
      }
    }
    // Held here but no longer ours in the bucket (another instance took it after our lease ran out).
    for (const partition of [...this.held.keys()]) {
      if (!plan.renew.includes(partition) && !plan.claim.includes(partition)) await this.lose(partition);
    }
  }

  private async hold(partition: number, revision: number): Promise<void> {
    const fresh = !this.held.has(partition);
    this.held.set(partition, revision);
    if (fresh) await this.options.onAcquire(partition);
  }

  private async lose(partition: number): Promise<void> {
    if (this.held.delete(partition)) await this.options.onRelease(partition);
  }

  private async liveInstances(kv: KV, now: number): Promise<number> {
    let live = 0;
    for await (const key of await kv.keys('i.>')) {
      const entry = await kv.get(key);
      if (entry?.operation !== 'PUT') continue;
      const { until } = JSON.parse(entry.string()) as { until?: number };
      if (typeof until === 'number' && until > now) live += 1;
    }
    return live;
  }
}

function partitionKey(partition: number): string {
  return `p.${partition}`;
}

function instanceKey(node: string): string {
  return `i.${encodeToken(node)}`;
}

function recordOf(entry: KvEntry | null | undefined): { owner?: string; until?: number } {
  if (entry === null || entry === undefined || entry.operation !== 'PUT') return {};
  try {
    const record = JSON.parse(entry.string()) as Partial<LeaseRecord>;
    return typeof record.owner === 'string' && typeof record.until === 'number'
      ? { owner: record.owner, until: record.until }
      : {};
  } catch {
    return {};
  }
}

/** Takes a key that never existed or was deleted: `create` refuses a key with a live value. */
async function createOrReplaceDeleted(
  kv: KV,
  key: string,
  value: string,
  entry: KvEntry | null | undefined,
): Promise<number> {
  if (entry === null || entry === undefined) return kv.create(key, value);
  return kv.update(key, value, entry.revision);
}
