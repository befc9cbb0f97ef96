import type { Bus } from '@holdfast/bus';
import type { Config } from '@holdfast/config';
import { startHeartbeat } from '@holdfast/session-log';
import type { Store } from '@holdfast/store';

import { Accounts } from './auth/accounts.js';
import { Gateway } from './gateway.js';
import { MessageArchive } from './mam/archive-store.js';
import { Mam } from './mam/mam-service.js';
import { OfflineCounts } from './offline/offline-counts.js';
import { OfflineStore } from './offline/offline-store.js';
import { RosterRepository } from './roster/index.js';
import type { ResourceRegistry } from './routing/registry.js';
import type { StreamLogger } from './stream/c2s-stream.js';
import { loadOrGenerateCertificate } from './transport/certificate.js';
import { limitConnectionsPerAddress } from './transport/connection-limit.js';
import { startTcpListener } from './transport/tcp.js';
import { startWebSocketListener } from './transport/websocket.js';

export type GatewayConfig = Pick<
  Config,
  | 'node_id'
  | 'xmpp_domain'
  | 'c2s_host'
  | 'c2s_port'
  | 'c2s_direct_tls_port'
  | 'websocket_port'
  | 'c2s_require_encryption'
  | 'tls_cert_file'
  | 'tls_key_file'
  | 'allow_plain_without_tls'
  | 'max_stanza_size'
  | 'max_offline_messages'
  | 'nats_stream_replicas'
  | 'mam_enabled'
  | 'mam_max_page_size'
  | 'auth_max_failures'
  | 'auth_failure_window_s'
  | 'max_connections_per_ip'
  | 'hibernation_time_s'
  | 'max_queue_size'
  | 'max_unacked_stanzas'
  | 'max_inactive_unacked_stanzas'
  | 'max_ack_delay_s'
  | 'read_timeout_s'
  | 'old_session_ttl_s'
  | 'location'
  | 'unacked_message_policy'
>;

export interface AppDeps {
  readonly config: GatewayConfig;
  readonly bus: Bus;
  readonly store: Store;
  readonly registry: ResourceRegistry;
  readonly logger: StreamLogger;
}

export interface Listening {
  readonly c2sPort: number;
  readonly directTlsPort: number | undefined;
  readonly websocketUrl: string | undefined;
}

export interface GatewayApp {
  readonly gateway: Gateway;
  /** Starts answering commands and accepting connections. */
  listen(): Promise<Listening>;
  /** Ends every stream with `system-shutdown`, then stops listening. */
  close(): Promise<void>;
}

/** Wires the gateway without side effects: nothing listens or subscribes until `listen`. */
export function build(deps: AppDeps): GatewayApp {
  const { config } = deps;
  const gateway = new Gateway(
    {
      node: config.node_id,
      domain: config.xmpp_domain,
      requireEncryption: config.c2s_require_encryption,
      allowPlainWithoutTls: config.allow_plain_without_tls,
      maxStanzaSize: config.max_stanza_size,
      authMaxFailures: config.auth_max_failures,
      authFailureWindowS: config.auth_failure_window_s,
      sm: {
        hibernationTimeS: config.hibernation_time_s,
        maxQueueSize: config.max_queue_size,
        maxUnackedStanzas: config.max_unacked_stanzas,
        maxInactiveUnackedStanzas: config.max_inactive_unacked_stanzas,
        maxAckDelayS: config.max_ack_delay_s,
        readTimeoutS: config.read_timeout_s,
        oldSessionTtlS: config.old_session_ttl_s,
        location: config.location,
        unackedMessagePolicy: config.unacked_message_policy,
      },
    },
    {
      bus: deps.bus,
      registry: deps.registry,
      accounts: new Accounts(deps.store, config.xmpp_domain),
      offline: new OfflineStore(
        deps.store,
        new OfflineCounts(deps.bus, deps.store.db.databaseName, { replicas: config.nats_stream_replicas }),
        config.xmpp_domain,
        config.max_offline_messages,
      ),
      mam: new Mam(
        new MessageArchive(deps.store, () => new Date()),
        { enabled: config.mam_enabled, maxPageSize: config.mam_max_page_size },
        deps.logger,
      ),
      roster: new RosterRepository(deps.store, {
        logger: {
          debug: () => undefined,
          warn: (f, m) => {
            deps.logger.warn(f, m);
          },
        },
      }),
      logger: deps.logger,
    },
  );
  const closers: (() => Promise<void>)[] = [];
  return {
    gateway,
    listen: async () => {
      const certificate = await loadOrGenerateCertificate({
        certFile: config.tls_cert_file,
        keyFile: config.tls_key_file,
        domain: config.xmpp_domain,
      });
      if (certificate.generated) {
        deps.logger.warn(
          { fingerprint256: certificate.fingerprint256 },
          'no TLS_CERT_FILE: serving a self-signed certificate generated at start',
        );
      }
      const tls = { cert: certificate.cert, key: certificate.key };
      await gateway.start();
      // Liveness for crash takeover: session-state moves a silent gateway's sessions to hibernation.
      const heartbeat = await startHeartbeat(deps.bus, config.node_id, {
        onError: (error) => {
          deps.logger.warn({ err: error }, 'heartbeat not stored');
        },
      });
      closers.push(() => heartbeat.stop());
      const onConnection = (transport: Parameters<Gateway['accept']>[0]): void => {
        gateway.accept(transport);
      };
      const c2s = await startTcpListener({
        host: config.c2s_host,
        port: config.c2s_port,
        starttls: tls,
        logger: deps.logger,
        maxConnectionsPerIp: config.max_connections_per_ip,
        onConnection,
      });
      closers.push(() => c2s.close());
      let directTlsPort: number | undefined;
      if (config.c2s_direct_tls_port >= 0) {
        const direct = await startTcpListener({
          host: config.c2s_host,
          port: config.c2s_direct_tls_port,
          directTls: tls,
          starttls: tls,
          logger: deps.logger,
          maxConnectionsPerIp: config.max_connections_per_ip,
          onConnection,
        });
        directTlsPort = direct.port;
        closers.push(() => direct.close());
      }
      let websocketUrl: string | undefined;
      if (config.websocket_port >= 0) {
        const ws = await startWebSocketListener({
          host: config.c2s_host,
          port: config.websocket_port,
          logger: deps.logger,
          maxMessageBytes: config.max_stanza_size,
          onConnection: limitConnectionsPerAddress(config.max_connections_per_ip, onConnection, (address) => {
            deps.logger.warn({ address }, 'WebSocket connection over the per-address limit refused');
          }),
        });
        websocketUrl = ws.url;
        closers.push(() => ws.close());
      }
      return { c2sPort: c2s.port, directTlsPort, websocketUrl };
    },
    close: async () => {
      await gateway.stop();
      await Promise.all(closers.map((close) => close()));
    },
  };
}
