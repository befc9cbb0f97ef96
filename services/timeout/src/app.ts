import type { Bus, BusLogger, Service } from '@holdfast/bus';
import type { Config } from '@holdfast/config';
import { SmSetHibernationDeadline } from '@holdfast/events';
import { SessionLog } from '@holdfast/session-log';

import { Expirer } from './expirer.js';
import { PartitionLeases } from './partition-leases.js';
import { PartitionTimers } from './partition-timers.js';
import { setDeadline } from './set-deadline.js';

export type TimeoutConfig = Pick<
  Config,
  | 'node_id'
  | 'timeout_lease_ms'
  | 'hibernation_time_s'
  | 'push_max_hibernation_s'
  | 'old_session_ttl_s'
  | 'nats_stream_replicas'
>;

export interface AppDeps {
  readonly config: TimeoutConfig;
  readonly bus: Bus;
  readonly logger: BusLogger;
  /** Lease bucket; default `HF_TIMEOUT_LEASES` (tests use their own). */
  readonly leasesBucket?: string;
}

export interface TimeoutApp {
  readonly leases: PartitionLeases;
  /** Takes a share of the partitions, loads their timers, starts firing and answering. */
  start(): Promise<void>;
  /** Gives the partitions back (others take over at once) after the firings in hand are answered. */
  stop(): Promise<void>;
}

/**
 * The timeout service: durable hibernation timers (spec T9) shared by every running instance through
 * partition leases, fired as `sm.terminate` requests that a gateway carries out (§4 outcomes, unbind),
 * `sm.hibernation.set_deadline` for a push service (§6), and the deletion of h-records older than
 * `old_session_ttl_s` (§5).
 */
export function build(deps: AppDeps): TimeoutApp {
  const { config, bus, logger } = deps;
  const log = new SessionLog(bus);
  const timers = new PartitionTimers(bus, logger, config.old_session_ttl_s * 1000);
  const leases = new PartitionLeases(bus, {
    node: config.node_id,
    leaseMs: config.timeout_lease_ms,
    logger,
    replicas: config.nats_stream_replicas,
    ...(deps.leasesBucket === undefined ? {} : { bucket: deps.leasesBucket }),
    onAcquire: async (partition) => {
      await timers.load(partition);
      logger.info({ partition }, 'timer partition acquired');
    },
    onRelease: async (partition) => {
      await timers.drop(partition);
      logger.info({ partition }, 'timer partition released');
    },
  });
  const expirer = new Expirer(bus, log, timers, logger);
  let deadlines: Service | undefined;

  return {
    leases,
    start: async () => {
      await leases.start();
      expirer.start();
      deadlines = bus.serve(SmSetHibernationDeadline, (request) =>
        setDeadline(log, request, {
          hibernationTimeS: config.hibernation_time_s,
          pushMaxHibernationS: config.push_max_hibernation_s,
        }),
      );
    },
    stop: async () => {
      const results = await Promise.allSettled([deadlines?.stop(), expirer.stop()]);
      await leases.stop();
      await timers.stop();
      const failures = results.flatMap((result) =>
        result.status === 'rejected' ? [result.reason as unknown] : [],
      );
      if (failures.length > 0) throw new AggregateError(failures, 'timeout did not stop cleanly');
    },
  };
}
