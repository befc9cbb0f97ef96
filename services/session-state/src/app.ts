import type { Bus, BusLogger, Service } from '@holdfast/bus';
import type { Config } from '@holdfast/config';
import { SmResumeClaim, type AnyEvent } from '@holdfast/events';
import {
  SessionLog,
  claimResume,
  forgetGateway,
  watchGateways,
  type GatewayWatch,
} from '@holdfast/session-log';
import type { Store } from '@holdfast/store';

import { UserLimits } from './limits/user-limits.js';
import { UserSessionsBucket } from './limits/user-sessions-bucket.js';
import { newerRecordCount } from './limits/user-sessions.js';
import { ProjectionConsumers } from './projection/projection-consumers.js';
import { SessionProjector } from './projection/session-projector.js';
import { GatewayTakeover } from './takeover/gateway-takeover.js';

export type SessionStateConfig = Pick<
  Config,
  | 'node_id'
  | 'old_session_ttl_s'
  | 'gateway_dead_after_ms'
  | 'nats_stream_replicas'
  | 'max_hibernated_sessions'
  | 'max_old_sessions'
>;

export interface AppDeps {
  readonly config: SessionStateConfig;
  readonly bus: Bus;
  readonly store: Store;
  readonly logger: BusLogger;
  /** Durable consumer names `<prefix>-p<partition>`; default `session-state` (tests use their own). */
  readonly durablePrefix?: string;
  /** Gateway liveness bucket; default `HF_GATEWAYS` (tests use their own). */
  readonly gatewaysBucket?: string;
  /** Per-user §5 index bucket; default `HF_SM_USERS` (tests use their own). */
  readonly usersBucket?: string;
}

export interface SessionStateApp {
  readonly projection: ProjectionConsumers;
  readonly takeover: GatewayTakeover;
  /** Starts the projection, answers resume claims, watches the gateways. */
  start(): Promise<void>;
  /** Stops watching, answering and consuming, letting work in hand finish. */
  stop(): Promise<void>;
}

/**
 * session-state, the durable half of stream management: answers resume claims (spec §2.3 steps 2-3)
 * on the session log, projects the logs into MongoDB, applies the per-user limits of §5 from that
 * projection, and takes over the sessions of gateways that died.
 * Nothing subscribes or consumes until `start`.
 */
export function build(deps: AppDeps): SessionStateApp {
  const { config, bus, store, logger } = deps;
  const log = new SessionLog(bus);
  const users = new UserSessionsBucket(bus, {
    replicas: config.nats_stream_replicas,
    ...(deps.usersBucket === undefined ? {} : { bucket: deps.usersBucket }),
  });
  const projector = new SessionProjector(store, log, users);
  const limits = new UserLimits(bus, log, {
    maxHibernatedSessions: config.max_hibernated_sessions,
    maxOldSessions: config.max_old_sessions,
    logger,
  });
  const apply = async (event: AnyEvent, seq: number): Promise<void> => {
    await limits.apply(event, await projector.apply(event, seq));
  };
  const projection = new ProjectionConsumers(
    bus,
    {
      apply,
      forget: (partition) => {
        projector.forget(partition);
      },
    },
    {
      logger,
      ...(deps.durablePrefix === undefined ? {} : { durablePrefix: deps.durablePrefix }),
    },
  );
  const takeover = new GatewayTakeover({ log, store, projection, logger });
  const bucket = {
    replicas: config.nats_stream_replicas,
    ...(deps.gatewaysBucket === undefined ? {} : { bucket: deps.gatewaysBucket }),
  };
  let claims: Service | undefined;
  let watch: GatewayWatch | undefined;

  return {
    projection,
    takeover,
    start: async () => {
      await projection.start();
      claims = bus.serve(SmResumeClaim, (request) =>
        claimResume(log, request, {
          oldSessionTtlS: config.old_session_ttl_s,
          maxOldSessions: config.max_old_sessions,
          newerRecords: async (bareJid, session, terminatedAt) =>
            newerRecordCount(await users.get(bareJid), session, terminatedAt),
        }),
      );
      watch = await watchGateways(bus, {
        ...bucket,
        deadAfterMs: config.gateway_dead_after_ms,
        onDead: async (node, gateway) => {
          const started = Date.now();
          const report = await takeover.takeOver(node);
          logger.info({ ...report, ms: Date.now() - started }, 'took over the sessions of a dead gateway');
          await forgetGateway(bus, gateway, bucket);
        },
        onError: (error) => {
          logger.warn({ err: error }, 'gateway watch: will retry');
        },
      });
    },
    stop: async () => {
      // Each part stops even if another fails (e.g. on a connection that is already closed).
      const results = await Promise.allSettled([watch?.stop(), claims?.stop(), projection.stop()]);
      const failures = results.flatMap((result) =>
        result.status === 'rejected' ? [result.reason as unknown] : [],
      );
      if (failures.length > 0) throw new AggregateError(failures, 'session-state did not stop cleanly');
    },
  };
}
