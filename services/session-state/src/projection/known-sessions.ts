import { SESSION_PARTITIONS, partitionOf } from '@holdfast/events';

/** What the projector last wrote to a session's `sm_sessions` document that its next event needs. */
export interface KnownSession {
  readonly lastSeq: number;
  readonly queueFrom?: number;
  readonly queueLength: number;
}

/** Sessions remembered per partition; past it the least recently written one is forgotten. */
const PER_PARTITION = 8192;

/**
 * The projector's own last writes, by partition, so an event usually needs no read before its writes.
 * Valid only while this instance saw every event its partition's consumer delivered (the caller
 * `forget`s a partition when another instance may have applied one in between, or after a failure).
 */
export class KnownSessions {
  private readonly partitions = Array.from(
    { length: SESSION_PARTITIONS },
    () => new Map<string, KnownSession>(),
  );

  constructor(private readonly perPartition: number = PER_PARTITION) {}

  get(session: string): KnownSession | undefined {
    return this.partitionFor(session).get(session);
  }

  set(session: string, known: KnownSession): void {
    const partition = this.partitionFor(session);
    partition.delete(session);
    partition.set(session, known);
    if (partition.size > this.perPartition) {
      const oldest = partition.keys().next();
      if (oldest.done !== true) partition.delete(oldest.value);
    }
  }

  delete(session: string): void {
    this.partitionFor(session).delete(session);
  }

  forget(partition: number): void {
    this.partitions[partition]?.clear();
  }

  private partitionFor(session: string): Map<string, KnownSession> {
    const partition = this.partitions[partitionOf(session)];
    if (partition === undefined) throw new Error(`no partition for session ${session}`);
    return partition;
  }
}
