import { bool, hostText, int, oneOf, optionalText, optionalUrl, text, url } from './option.js';

const infra = 'infrastructure' as const;
const otel = 'telemetry' as const;
const sm = 'stream management' as const;
const muc = 'muc reliability' as const;
const gw = 'gateway' as const;
const DAY = 86_400;

/**
 * Every option Holdfast reads, with its environment variable, default and meaning: the single table that
 * `loadConfig` parses and docs/configuration.md is rendered from. Stream management keys are the spec's
 * (shared/spec/stream-management.md §3, env = `SM_` + upper-cased key); MUC keys are
 * shared/spec/muc-reliability.md §2 (env = upper-cased key).
 */
export const OPTIONS = {
  nats_url: url({
    env: 'NATS_URL',
    group: infra,
    default: 'nats://127.0.0.1:4222',
    protocols: ['nats:', 'tls:'],
    doc: 'NATS server URL (JetStream enabled)',
  }),
  nats_stream_replicas: int({
    env: 'NATS_STREAM_REPLICAS',
    group: infra,
    default: 1,
    min: 1,
    max: 5,
    doc: 'JetStream replicas of the streams Holdfast declares (3 in a NATS cluster of 3)',
  }),
  mongo_url: url({
    env: 'MONGO_URL',
    group: infra,
    default: 'mongodb://127.0.0.1:27017/',
    protocols: ['mongodb:', 'mongodb+srv:'],
    doc: 'MongoDB (or MongoDB-wire server, e.g. FerretDB) connection string',
  }),
  mongo_db: text({ env: 'MONGO_DB', group: infra, default: 'holdfast', doc: 'database name' }),
  node_id: hostText({
    env: 'NODE_ID',
    group: infra,
    doc: 'this process’s identity in events, leases and logs; unique per running instance',
  }),
  log_level: oneOf({
    env: 'LOG_LEVEL',
    group: infra,
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
    default: 'info',
    doc: 'pino log level',
  }),
  local_nats_port: int({
    env: 'HOLDFAST_NATS_PORT',
    group: infra,
    default: 4222,
    min: 1,
    max: 65535,
    doc: 'client port of the nats-server that `./holdfast up` starts (when NATS_URL is unset)',
  }),
  local_mongo_port: int({
    env: 'HOLDFAST_MONGO_PORT',
    group: infra,
    default: 27017,
    min: 1,
    max: 65535,
    doc: 'port of the FerretDB that `./holdfast up` starts (when MONGO_URL is unset)',
  }),
  data_dir: text({
    env: 'HOLDFAST_DATA_DIR',
    group: infra,
    default: './data',
    doc: 'where `./holdfast up` keeps the local nats-server and FerretDB data',
  }),

  otel_sdk_disabled: bool({
    env: 'OTEL_SDK_DISABLED',
    group: otel,
    default: false,
    doc: 'standard OpenTelemetry switch; true = no telemetry at all',
  }),
  otel_exporter_otlp_endpoint: optionalUrl({
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    group: otel,
    protocols: ['http:', 'https:'],
    doc: 'OTLP/HTTP (protobuf) base endpoint, e.g. http://otel-collector:4318; unset = nothing is exported. OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER and OTEL_RESOURCE_ATTRIBUTES are read by the OpenTelemetry SDK itself',
  }),
  otel_exporter_otlp_traces_endpoint: optionalUrl({
    env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    group: otel,
    protocols: ['http:', 'https:'],
    doc: 'OTLP/HTTP traces endpoint, overriding the base endpoint for traces',
  }),

  xmpp_domain: text({
    env: 'XMPP_DOMAIN',
    group: gw,
    default: 'localhost',
    doc: 'the XMPP domain this cluster serves (the server JID)',
  }),
  c2s_host: text({
    env: 'C2S_HOST',
    group: gw,
    default: '127.0.0.1',
    doc: 'address the c2s and WebSocket listeners bind to (0.0.0.0 in containers)',
  }),
  c2s_port: int({
    env: 'C2S_PORT',
    group: gw,
    default: 5222,
    min: 0,
    max: 65535,
    doc: 'c2s TCP port (STARTTLS); 0 = any free port',
  }),
  c2s_direct_tls_port: int({
    env: 'C2S_DIRECT_TLS_PORT',
    group: gw,
    default: -1,
    min: -1,
    max: 65535,
    doc: 'c2s direct TLS port (XEP-0368); -1 = off, 0 = any free port',
  }),
  websocket_port: int({
    env: 'XMPP_WEBSOCKET_PORT',
    group: gw,
    default: 5280,
    min: -1,
    max: 65535,
    doc: 'WebSocket (RFC 7395) port, path /xmpp-websocket; -1 = off, 0 = any free port',
  }),
  c2s_require_encryption: bool({
    env: 'C2S_REQUIRE_ENCRYPTION',
    group: gw,
    default: true,
    doc: 'require STARTTLS before authentication on c2s TCP (false only for tests and benchmarks)',
  }),
  tls_cert_file: optionalText({
    env: 'TLS_CERT_FILE',
    group: gw,
    doc: 'PEM certificate chain for c2s TLS; unset = a self-signed certificate generated at start',
  }),
  tls_key_file: optionalText({ env: 'TLS_KEY_FILE', group: gw, doc: 'PEM private key for TLS_CERT_FILE' }),
  allow_plain_without_tls: bool({
    env: 'SASL_ALLOW_PLAIN_WITHOUT_TLS',
    group: gw,
    default: false,
    doc: 'offer SASL PLAIN on unencrypted streams',
  }),
  max_stanza_size: int({
    env: 'MAX_STANZA_SIZE',
    group: gw,
    default: 262_144,
    min: 1024,
    doc: 'largest stanza accepted, in bytes; larger ones end the stream with policy-violation',
  }),
  max_offline_messages: int({
    env: 'MAX_OFFLINE_MESSAGES',
    group: gw,
    default: 1000,
    min: 0,
    doc: 'offline messages kept per user (XEP-0160); 0 disables offline storage',
  }),
  auth_max_failures: int({
    env: 'AUTH_MAX_FAILURES',
    group: gw,
    default: 5,
    min: 1,
    doc: 'failed authentications per client address and per account within AUTH_FAILURE_WINDOW_S before further attempts are refused',
  }),
  auth_failure_window_s: int({
    env: 'AUTH_FAILURE_WINDOW_S',
    group: gw,
    default: 300,
    min: 1,
    doc: 'window for AUTH_MAX_FAILURES',
  }),
  max_connections_per_ip: int({
    env: 'MAX_CONNECTIONS_PER_IP',
    group: gw,
    default: 64,
    min: 1,
    doc: 'concurrent client connections accepted per remote address',
  }),

  hibernation_time_s: int({
    env: 'SM_HIBERNATION_TIME_S',
    group: sm,
    default: 600,
    min: 0,
    doc: 'resume window; 0 disables resumption',
  }),
  max_queue_size: int({
    env: 'SM_MAX_QUEUE_SIZE',
    group: sm,
    default: 5000,
    min: 1,
    doc: 'unacked stanzas (sent or queued) per session (§2.4)',
  }),
  max_unacked_stanzas: int({
    env: 'SM_MAX_UNACKED_STANZAS',
    group: sm,
    default: 0,
    min: 0,
    doc: 'request an ack when unacked exceeds this (clamped below max_queue_size)',
  }),
  max_inactive_unacked_stanzas: int({
    env: 'SM_MAX_INACTIVE_UNACKED_STANZAS',
    group: sm,
    default: 256,
    min: 0,
    doc: 'same while CSI-inactive (clamped below max_queue_size)',
  }),
  max_ack_delay_s: int({
    env: 'SM_MAX_ACK_DELAY_S',
    group: sm,
    default: 30,
    min: 0,
    doc: '`<r/>` age that emits sm.ack_delayed; 0 = never',
  }),
  max_hibernated_sessions: int({
    env: 'SM_MAX_HIBERNATED_SESSIONS',
    group: sm,
    default: 10,
    min: 1,
    doc: 'hibernating sessions per user (§5)',
  }),
  max_old_sessions: int({
    env: 'SM_MAX_OLD_SESSIONS',
    group: sm,
    default: 10,
    min: 0,
    doc: 'h-records kept per user for `<failed h>` (§5); 0 = none',
  }),
  old_session_ttl_s: int({
    env: 'SM_OLD_SESSION_TTL_S',
    group: sm,
    default: 0,
    min: 0,
    doc: 'h-records older than this are deleted (§5); 0 = no TTL',
  }),
  enabled_s2s: bool({
    env: 'SM_ENABLED_S2S',
    group: sm,
    default: true,
    doc: 'stream management on s2s links',
  }),
  s2s_resend: bool({
    env: 'SM_S2S_RESEND',
    group: sm,
    default: false,
    doc: 're-route unacked s2s stanzas instead of bouncing them',
  }),
  read_timeout_s: int({
    env: 'SM_READ_TIMEOUT_S',
    group: sm,
    default: 840,
    min: 1,
    doc: 'idle time before the server probes with `<r/>`',
  }),
  unacked_message_policy: oneOf({
    env: 'SM_UNACKED_MESSAGE_POLICY',
    group: sm,
    values: ['offline', 'noerror', 'bounce'],
    default: 'offline',
    doc: 'termination outcome policy for unacked messages (§4)',
  }),
  location: optionalText({
    env: 'SM_LOCATION',
    group: sm,
    doc: 'value for `<enabled location>`; never sent when unset',
  }),
  push_max_hibernation_s: int({
    env: 'SM_PUSH_MAX_HIBERNATION_S',
    group: sm,
    default: 3 * DAY,
    min: 0,
    doc: 'upper bound for push-extended hibernation (§6)',
  }),

  muc_watchdog_enabled: bool({
    env: 'MUC_WATCHDOG_ENABLED',
    group: muc,
    default: true,
    doc: 'master switch',
  }),
  ping_muc_delay_s: int({
    env: 'PING_MUC_DELAY_S',
    group: muc,
    default: 60,
    min: 1,
    doc: 'wait after an s2s close before probing',
  }),
  ping_muc_timeout_s: int({
    env: 'PING_MUC_TIMEOUT_S',
    group: muc,
    default: 120,
    min: 1,
    doc: 'per-ping deadline',
  }),
  ping_muc_max_attempts: int({
    env: 'PING_MUC_MAX_ATTEMPTS',
    group: muc,
    default: 1,
    min: 1,
    doc: 'probes per membership per check before giving up on UNCONFIRMED',
  }),
  ping_muc_retry_interval_s: int({
    env: 'PING_MUC_RETRY_INTERVAL_S',
    group: muc,
    default: 30,
    min: 0,
    doc: 'pause between attempts',
  }),
  ping_muc_kick_on_unconfirmed: bool({
    env: 'PING_MUC_KICK_ON_UNCONFIRMED',
    group: muc,
    default: true,
    doc: 'kick when membership could not be confirmed',
  }),
  ping_muc_trust_reflected_errors: bool({
    env: 'PING_MUC_TRUST_REFLECTED_ERRORS',
    group: muc,
    default: false,
    doc: 'treat service-unavailable / feature-not-implemented as joined',
  }),
  ping_muc_on_idle_close: bool({
    env: 'PING_MUC_ON_IDLE_CLOSE',
    group: muc,
    default: true,
    doc: 'also react when a link was closed only for being idle',
  }),
  ping_muc_max_in_flight_per_domain: int({
    env: 'PING_MUC_MAX_IN_FLIGHT_PER_DOMAIN',
    group: muc,
    default: 100,
    min: 1,
    doc: 'cap on concurrent probes toward one remote domain',
  }),
  ping_muc_kick_reason: text({
    env: 'PING_MUC_KICK_REASON',
    group: muc,
    default: "Lost contact with the room's server",
    doc: 'reason text when the response carried none',
  }),
  track_muc_joins_require_directed_presence: bool({
    env: 'TRACK_MUC_JOINS_REQUIRE_DIRECTED_PRESENCE',
    group: muc,
    default: true,
    doc: 'join rule J1',
  }),
  muc_push_trigger_ping: bool({
    env: 'MUC_PUSH_TRIGGER_PING',
    group: muc,
    default: false,
    doc: 'a MUC push schedules an immediate check (§5 R6)',
  }),
} as const;
