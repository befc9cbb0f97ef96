import { Kvm, type KV, type KvOptions } from '@nats-io/kv';

import type { Bus } from './bus.js';

/**
 * A JetStream KV bucket created (or bound to) on its first use rather than at start, so a service starts
 * without it; a failed attempt is not remembered, the next use tries again.
 */
export class LazyBucket {
  private opened: Promise<KV> | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly name: string,
    private readonly options: Partial<KvOptions>,
  ) {}

  kv(): Promise<KV> {
    this.opened ??= new Kvm(this.bus.js).create(this.name, this.options).catch((error: unknown) => {
      this.opened = undefined;
      throw error;
    });
    return this.opened;
  }
}
