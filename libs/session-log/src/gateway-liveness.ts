import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { Kvm, type KV } from '@nats-io/kv';
import { isWrongLastSequence, type Bus } from '@holdfast/bus';
import { decodeToken, encodeToken } from '@holdfast/events';

/**
 * Gateway liveness: each gateway heartbeats into the JetStream KV bucket `HF_GATEWAYS` (key = its encoded
 * node id, value `{node, at, incarnation}`), and session-state watches the bucket to take over the
 * sessions of a gateway that stopped heartbeating without saying goodbye (spec §7.14: a crash is transport
 * loss for all its clients). A clean stop deletes the key: its sessions were drained (T13), so it is never
 * reported dead.
 *
 * No per-message TTL on heartbeats: an expired key would look like a clean stop, and a crash seen by no
 * watcher (session-state down at the time) would leave its sessions ACTIVE forever. A dead gateway's key
 * stays until whoever took its sessions over calls `forgetGateway`.
 */

export const DEFAULT_GATEWAYS_BUCKET = 'HF_GATEWAYS';
/** Delete markers of cleanly stopped gateways expire after this (needs `allow_msg_ttl`, nats-server ≥ 2.11). */
const MARKER_TTL_MS = 60_000;
const KV_OPERATION = 'KV-Operation';

export interface LivenessBucketOptions {
  /** KV bucket; default `HF_GATEWAYS` (tests use their own). */
  readonly bucket?: string;
  /** Stream replicas when the bucket is created. */
  readonly replicas?: number;
}

/** What a gateway stores in its heartbeat. */
export interface HeartbeatRecord {
  readonly node: string;
  /** Wall-clock time of the beat (RFC 3339), informational: liveness is judged by revisions. */
  readonly at: string;
  /** Random per process start, so a restart under the same node id is recognisable. */
  readonly incarnation: string;
}

export interface HeartbeatOptions extends LivenessBucketOptions {
  readonly intervalMs?: number;
  /** A beat that failed (e.g. NATS unreachable); the next one is tried on schedule. */
  readonly onError?: (error: unknown) => void;
}

export interface Heartbeat {
  /**
   * The previous process under this node id had not stopped cleanly (its key was still there): the
   * sessions it owned may still be ACTIVE in the log, and a watcher may not have noticed the death if
   * this process started within the dead-after window.
   */
  readonly uncleanPrevious?: HeartbeatRecord;
  /** Stops beating and deletes the key (clean shutdown). */
  stop(): Promise<void>;
}

/** Opens the liveness bucket, creating it when missing (history 1, expiring delete markers). */
export async function openGatewaysBucket(bus: Bus, options: LivenessBucketOptions = {}): Promise<KV> {
  return new Kvm(bus.js).create(options.bucket ?? DEFAULT_GATEWAYS_BUCKET, {
    description: 'Holdfast: gateway heartbeats (session takeover after a crash)',
    history: 1,
    replicas: options.replicas ?? 1,
    markerTTL: MARKER_TTL_MS,
  });
}

/** The key of a node in the liveness bucket. */
export function gatewayKey(node: string): string {
  return encodeToken(node);
}

/** Beats every `intervalMs` (default 500) until `stop`; the first beat is stored before this resolves. */
export async function startHeartbeat(
  bus: Bus,
  node: string,
  options: HeartbeatOptions = {},
): Promise<Heartbeat> {
  const intervalMs = options.intervalMs ?? 500;
  const kv = await openGatewaysBucket(bus, options);
  const key = gatewayKey(node);
  const incarnation = randomBytes(9).toString('base64url');
  const previous = await kv.get(key);
  const uncleanPrevious = previous?.operation === 'PUT' ? parseRecord(previous.value) : undefined;
  const beat = async (): Promise<void> => {
    const record: HeartbeatRecord = { node, at: new Date().toISOString(), incarnation };
    // At most one interval per beat: nats.js drops what is published while disconnected, so a beat sent
    // into an outage would otherwise hold up the next ones for the whole JetStream timeout (5 s).
    await kv.put(key, JSON.stringify(record), { timeout: intervalMs });
  };
  await beat();

  const control: { stopped: boolean; timer?: NodeJS.Timeout; inFlight: Promise<void> } = {
    stopped: false,
    inFlight: Promise.resolve(),
  };
  const schedule = (): void => {
    control.timer = setTimeout(() => {
      control.inFlight = beat()
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => {
          if (!control.stopped) schedule();
        });
    }, intervalMs);
  };
  schedule();
  return {
    ...(uncleanPrevious === undefined ? {} : { uncleanPrevious }),
    stop: async () => {
      if (control.stopped) return;
      control.stopped = true;
      clearTimeout(control.timer);
      await control.inFlight;
      await kv.purge(key, { ttl: `${MARKER_TTL_MS / 1000}s` });
    },
  };
}

export interface DeadGateway {
  readonly node: string;
  /** The bucket revision seen stale: `forgetGateway` removes exactly that one. */
  readonly revision: number;
  readonly record: HeartbeatRecord | undefined;
}

export interface WatchOptions extends LivenessBucketOptions {
  /** A gateway whose heartbeat has not changed for this long is dead (default 2000). */
  readonly deadAfterMs?: number;
  /** How often the bucket is read (default 250). */
  readonly pollMs?: number;
  /**
   * Called once per death; a rejected promise is retried on a later poll (after `retryMs`, default
   * 1000), so the caller's takeover is not lost to a passing failure.
   */
  readonly onDead: (node: string, gateway: DeadGateway) => void | Promise<void>;
  readonly retryMs?: number;
  /** A failed poll or handler; the watch carries on. */
  readonly onError?: (error: unknown) => void;
}

export interface GatewayWatch {
  stop(): Promise<void>;
}

/** Per key: the last revision seen and when (monotonic clock) it last changed. */
interface Tracked {
  revision: number;
  changedAt: number;
  record: HeartbeatRecord | undefined;
  /** The revision reported dead and handled; cleared when the key moves on. */
  handled?: number;
  /** A failed handler is retried from this (monotonic) time on. */
  retryAt?: number;
}

/**
 * Watches the heartbeats and reports gateways that stopped beating. Staleness is measured on this
 * process's monotonic clock from when a key's revision last changed, so clock skew between hosts does
 * not matter; a key first seen already old (e.g. after a restart of the watcher) is judged by the
 * server's timestamp of its last beat.
 */
export async function watchGateways(bus: Bus, options: WatchOptions): Promise<GatewayWatch> {
  const deadAfterMs = options.deadAfterMs ?? 2000;
  const pollMs = options.pollMs ?? 250;
  const retryMs = options.retryMs ?? 1000;
  const kv = await openGatewaysBucket(bus, options);
  const { streamInfo } = await kv.status();
  const stream = streamInfo.config.name;
  const prefix = `$KV.${options.bucket ?? DEFAULT_GATEWAYS_BUCKET}.`;
  const tracked = new Map<string, Tracked>();
  const handling = new Set<Promise<void>>();
  const control: { stopped: boolean; timer?: NodeJS.Timeout; polling: Promise<void>; blind: boolean } = {
    stopped: false,
    polling: Promise.resolve(),
    blind: false,
  };

  const poll = async (): Promise<void> => {
    const seen = new Set<string>();
    const messages = await bus.jsm.direct.getLastMessagesFor(stream, { multi_last: [`${prefix}>`] });
    const now = performance.now();
    if (control.blind) {
      // This watcher could not read the bucket (NATS unreachable): nobody could beat meanwhile either,
      // so every gateway gets a whole deadAfterMs from now on before it counts as dead.
      for (const entry of tracked.values()) entry.changedAt = Math.max(entry.changedAt, now);
      control.blind = false;
    }
    for await (const message of messages) {
      const key = message.subject.slice(prefix.length);
      const operation = message.header.get(KV_OPERATION);
      if (operation === 'DEL' || operation === 'PURGE') continue;
      seen.add(key);
      const current = tracked.get(key);
      if (current?.revision === message.seq) continue;
      const age = current === undefined ? Math.max(0, Date.now() - message.time.getTime()) : 0;
      tracked.set(key, {
        revision: message.seq,
        changedAt: now - Math.min(age, deadAfterMs),
        record: parseRecord(message.data),
      });
    }
    for (const key of tracked.keys()) if (!seen.has(key)) tracked.delete(key);
    for (const [key, entry] of tracked) {
      if (entry.handled === entry.revision || now - entry.changedAt < deadAfterMs) continue;
      if (entry.retryAt !== undefined && now < entry.retryAt) continue;
      entry.handled = entry.revision;
      const node = entry.record?.node ?? nodeOfKey(key);
      const report = (async () => {
        await options.onDead(node, { node, revision: entry.revision, record: entry.record });
      })()
        .catch((error: unknown) => {
          options.onError?.(error);
          if (entry.handled === entry.revision) {
            entry.handled = undefined;
            entry.retryAt = performance.now() + retryMs;
          }
        })
        .finally(() => handling.delete(report));
      handling.add(report);
    }
  };

  const schedule = (): void => {
    control.timer = setTimeout(() => {
      control.polling = poll()
        .catch((error: unknown) => {
          control.blind = true;
          options.onError?.(error);
        })
        .finally(() => {
          if (!control.stopped) schedule();
        });
    }, pollMs);
  };
  control.polling = poll().catch((error: unknown) => {
    control.blind = true;
    options.onError?.(error);
  });
  schedule();
  return {
    stop: async () => {
      control.stopped = true;
      clearTimeout(control.timer);
      await control.polling;
      await Promise.all([...handling]);
    },
  };
}

/**
 * Removes a dead gateway's heartbeat once its sessions were taken over, unless it beat again since
 * (`revision` is the one reported dead). Returns false when the key had moved on.
 */
export async function forgetGateway(
  bus: Bus,
  gateway: DeadGateway,
  options: LivenessBucketOptions = {},
): Promise<boolean> {
  const kv = await openGatewaysBucket(bus, options);
  try {
    await kv.purge(gatewayKey(gateway.node), {
      previousSeq: gateway.revision,
      ttl: `${MARKER_TTL_MS / 1000}s`,
    });
    return true;
  } catch (error) {
    if (isWrongLastSequence(error)) return false;
    throw error;
  }
}

/** The node id of a key whose value is unreadable. */
function nodeOfKey(key: string): string {
  try {
    return decodeToken(key);
  } catch {
    return key;
  }
}

function parseRecord(value: Uint8Array): HeartbeatRecord | undefined {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(value));
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'node' in parsed &&
      typeof parsed.node === 'string' &&
      'at' in parsed &&
      typeof parsed.at === 'string'
    ) {
      const incarnation =
        'incarnation' in parsed && typeof parsed.incarnation === 'string' ? parsed.incarnation : '';
      return { node: parsed.node, at: parsed.at, incarnation };
    }
  } catch {
    // An unreadable value still identifies its key; the node id then comes from the key.
  }
  return undefined;
}
