import { createHash } from 'node:crypto';

import { Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import { isWrongLastSequence, type Bus, type BusLogger } from '@holdfast/bus';
import { encodeToken } from '@holdfast/events';

import { RegistryView } from './registry-view.js';
import type { ResourceRecord } from './rules.js';

export type { ResourceRecord } from './rules.js';

/** A resource as the registry stores it. */
export interface RegisteredResource extends ResourceRecord {
  /** When the resource was bound (RFC 3339). */
  readonly boundAt: string;
  /** The last presence broadcast from this resource, serialised, to answer probes (RFC 6121 §4.3.2). */
  readonly presence?: string;
}

export type ClaimResult =
  | { readonly ok: true; readonly revision: number }
  | { readonly ok: false; readonly holder: RegisteredResource };

/** Fields `update` may change; `presence: undefined` removes the stored presence. */
export interface ResourcePatch {
  /** The gateway now holding the session, or `HIBERNATING` (stream management, spec §2.1). */
  readonly gateway?: string;
  readonly priority?: number;
  readonly available?: boolean;
  readonly presence?: string | undefined;
}

/** What `claim` stores: `boundAt` defaults to the time of the call. */
export type ResourceClaim = ResourceRecord & { readonly boundAt?: string; readonly presence?: string };

export interface ResourceRegistryOptions {
  /** Where unreadable records are reported; default: `process.emitWarning`. */
  readonly logger?: BusLogger;
  /** KV bucket name; default `HF_RESOURCES`. */
  readonly bucket?: string;
  /** Stream replicas when the bucket is created. */
  readonly replicas?: number;
  /**
   * Keep the in-process routing view (RegistryView; default on): a routing read without a round trip.
   * It can lag a write on another gateway; a stanza routed on a stale record reaches a gateway that no
   * longer holds the session, which sends it where the session's log says (Gateway.notDelivered).
   */
  readonly view?: boolean;
}

export type ResourceRegistryErrorCode =
  | 'HF_REGISTRY_JID_INVALID'
  | 'HF_REGISTRY_RECORD_INVALID'
  | 'HF_REGISTRY_CONTENDED'
  | 'HF_REGISTRY_BUCKET_INCOMPATIBLE';

export class ResourceRegistryError extends Error {
  override readonly name = 'ResourceRegistryError';

  constructor(
    readonly code: ResourceRegistryErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const DEFAULT_RESOURCE_BUCKET = 'HF_RESOURCES';

/**
 * The `gateway` of a resource whose stream-management session hibernates (spec §2.1, §7.21): it stays
 * bound and available, and stanzas for it go to its durable queue.
 */
export const HIBERNATING = '-';

/**
 * A key longer than this is refused before it reaches NATS: a PUB control line over the server's
 * `max_control_line` (4096 by default) makes the server close the whole connection. Subject prefix
 * (`$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.`) and reply inbox fit in the remaining ~2 KiB. A
 * resourcepart is 3 key characters per non-alphanumeric byte, so binding should cap resourceparts well
 * below RFC 7622's 1023 octets.
 */
/** Two tokens and a dot stay well below the 2048 characters a key may have on a NATS control line. */
const MAX_TOKEN_LENGTH = 960;
/** CAS attempts before giving up; each failed attempt means another writer changed the key meanwhile. */
const MAX_ATTEMPTS = 16;
/** Purge markers expire after this; long enough for any watcher to have seen the release. */
const MARKER_TTL_MS = 60_000;
const MARKER_TTL = `${MARKER_TTL_MS / 1000}s`;
/** Parallel CAS deletes in `releaseAllOf`. */
const RELEASE_CONCURRENCY = 64;
const KV_OPERATION = 'KV-Operation';
const RECORD_VERSION = 1;

interface StoredRecord extends RegisteredResource {
  readonly v: typeof RECORD_VERSION;
}

interface Current {
  readonly revision: number;
  readonly record: RegisteredResource;
}

/**
 * The cluster-wide table of bound resources (RFC 6120 §7): one JetStream KV entry per full JID, under
 * `<encodeToken(bare JID)>.<encodeToken(resourcepart)>`, so one subject wildcard lists a user's resources.
 *
 * Reads and writes, and why:
 * - Every write is a compare-and-set on the key's last sequence (`Nats-Expected-Last-Subject-Sequence`),
 *   decided by the stream leader: `claim` is create-if-absent, `update` and `release` apply only to the
 *   revision they read and retry when another writer got in between.
 * - The reads those writes depend on go to the stream leader (`STREAM.MSG.GET`), which has applied every
 *   acknowledged write. Direct Get may be answered by a follower that has not yet, which with R>1 would
 *   let `release` see an older holder and leave a freshly claimed record behind.
 * - `resourcesOfNow` is one Direct Get request
 *   (`multi_last: ["$KV.<bucket>.<bare>.>"]`, nats-server ≥ 2.11): no consumer is created, no
 *   per-resource round trip. With R1 it reads its own writes; with R>1 a follower can lag the leader by
 *   the replication delay, the same race as a stanza routed a moment before a bind. The server refuses
 *   a multi-get matching more than 1024 keys; a cap on resources per account belongs in the bind.
 * - `resourcesOf` reads the in-process view kept by a KV watch (own writes at once); it is stale between a
 *   write on another gateway and the watch event, so paths that must see the latest record (a moved
 *   session, §4's last-resource question, resume) use `resourcesOfNow`.
 *
 * Released keys are purged with a per-message TTL on the purge marker (`allow_msg_ttl`): the marker shows
 * watchers the release and then expires, so a bucket of short-lived, randomly named resources does not
 * keep one marker per resource ever bound.
 */
export class ResourceRegistry {
  private constructor(
    private readonly bus: Bus,
    /** Reads through the stream leader; all writes. */
    private readonly kv: KV,
    private readonly bucket: string,
    private readonly stream: string,
    readonly logger: BusLogger,
  ) {}

  /** Creates the bucket if it does not exist (history 1, TTL'd purge markers), and binds to it. */
  static async open(bus: Bus, options: ResourceRegistryOptions = {}): Promise<ResourceRegistry> {
    const bucket = options.bucket ?? DEFAULT_RESOURCE_BUCKET;
    const kvm = new Kvm(bus.js);
    const created = await kvm.create(bucket, {
      description: 'Holdfast: bound XMPP resources, cluster-wide',
      history: 1,
      replicas: options.replicas ?? 1,
      markerTTL: MARKER_TTL_MS,
    });
    const { streamInfo } = await created.status();
    if (streamInfo.config.allow_msg_ttl !== true || !streamInfo.config.allow_direct) {
      throw new ResourceRegistryError(
        'HF_REGISTRY_BUCKET_INCOMPATIBLE',
        `KV bucket ${bucket} exists without per-message TTLs or direct get; recreate it`,
      );
    }
    // A second binding with direct get off: its reads go to the stream leader (see the class comment).
    const kv = await kvm.open(bucket, { allow_direct: false });
    const registry = new ResourceRegistry(
      bus,
      kv,
      bucket,
      streamInfo.config.name,
      options.logger ?? warningLogger,
    );
    if (options.view !== false) {
      await registry.view.start(kv, (error) => {
        registry.logger.warn({ err: error, bucket }, 'registry watch ended; reading the bucket from now on');
      });
    }
    return registry;
  }

  /** The routing view (see RegistryView); writes through `claim`, `update` and `release`. */
  private readonly view = new RegistryView<RegisteredResource>((key, value) => {
    try {
      return decodeRecord(key, value);
    } catch {
      return undefined; // Unreadable: skipped here, and logged by the reads of the bucket.
    }
  });

  /** Stops the routing view's watch. */
  close(): void {
    this.view.stop();
  }

  /**
   * Binds `record.jid` to its session, unless the full JID is already bound anywhere in the cluster:
   * then the current holder is returned (RFC 6120 §7.7.2.2 decides what to do about it). Idempotent: a
   * retried claim (say, after a timed-out acknowledgement) that finds its own session succeeds, leaving
   * the stored record as it is.
   */
  async claim(claim: ResourceClaim): Promise<ClaimResult> {
    const record: RegisteredResource = { ...claim, boundAt: claim.boundAt ?? new Date().toISOString() };
    const key = keyOf(record.jid);
    const value = encodeRecord(record);
    let expected = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        const revision = await this.kv.put(key, value, { previousSeq: expected });
        this.view.apply(key, revision, record);
        return { ok: true, revision };
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
      const entry = await this.kv.get(key);
      if (entry?.operation === 'PUT') {
        const holder = decodeRecord(key, entry.value);
        return holder.session === record.session
          ? { ok: true, revision: entry.revision }
          : { ok: false, holder };
      }
      // Absent, or a release marker: create on top of exactly what is there now.
      expected = entry?.revision ?? 0;
    }
    throw contended('claim', record.jid);
  }

  /** Changes the record of `jid` if `session` still holds it; false if it is gone or held by another session. */
  async update(jid: string, session: string, patch: ResourcePatch): Promise<boolean> {
    const key = keyOf(jid);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.current(key);
      if (current?.record.session !== session) return false;
      try {
        const next = patched(current.record, patch);
        this.view.apply(key, await this.kv.update(key, encodeRecord(next), current.revision), next);
        return true;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
    }
    throw contended('update', jid);
  }

  /**
   * Removes the record of `jid` if `session` still holds it and returns it (with the last presence the
   * resource broadcast); undefined if it is gone or held by another session.
   */
  async release(jid: string, session: string): Promise<RegisteredResource | undefined> {
    const key = keyOf(jid);
    return this.releaseWhere(key, await this.current(key), (record) => record.session === session);
  }

  /**
   * Every resource bound to `bareJid`, in no particular order, from the routing view (which lags the
   * bucket by its watch); see `resourcesOfNow` for a read of the bucket itself.
   */
  async resourcesOf(bareJid: string): Promise<RegisteredResource[]> {
    return this.view.recordsOf(keyToken(bareJid)) ?? this.resourcesOfNow(bareJid);
  }

  /** Every resource bound to `bareJid`, read from the bucket. See the class comment for consistency. */
  async resourcesOfNow(bareJid: string): Promise<RegisteredResource[]> {
    const filter = `$KV.${this.bucket}.${keyToken(bareJid)}.>`;
    const messages = await this.bus.directBatch(this.stream, { multi_last: [filter] });
    const records: RegisteredResource[] = [];
    for (const message of messages) {
      const operation = message.headers.get(KV_OPERATION);
      if (operation === 'DEL' || operation === 'PURGE') continue;
      const record = this.decodeOrSkip(message.subject, message.data);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  /**
   * Removes every record held by `gateway`, for when that gateway is known to be dead; returns how many.
   * Scans the whole bucket; each removal is a CAS on the revision seen, so a JID re-bound elsewhere in the
   * meantime is left alone.
   */
  async releaseAllOf(gateway: string): Promise<number> {
    const candidates: { key: string; current: Current }[] = [];
    // With history 1 the "history" of the bucket is the last entry of every key; the iterator ends when
    // the consumer has caught up.
    const entries = await this.kv.history();
    for await (const entry of entries) {
      if (entry.operation !== 'PUT') continue;
      const record = this.decodeOrSkip(entry.key, entry.value);
      if (record?.gateway === gateway) {
        candidates.push({ key: entry.key, current: { revision: entry.revision, record } });
      }
    }
    let released = 0;
    for (let start = 0; start < candidates.length; start += RELEASE_CONCURRENCY) {
      const batch = candidates.slice(start, start + RELEASE_CONCURRENCY);
      const results = await Promise.all(
        batch.map(({ key, current }) =>
          this.releaseWhere(key, current, (record) => record.gateway === gateway),
        ),
      );
      released += results.filter((record) => record !== undefined).length;
    }
    return released;
  }

  private async current(key: string): Promise<Current | undefined> {
    const entry = await this.kv.get(key);
    if (entry?.operation !== 'PUT') return undefined;
    return { revision: entry.revision, record: decodeRecord(key, entry.value) };
  }

  private async releaseWhere(
    key: string,
    seen: Current | undefined,
    owns: (record: RegisteredResource) => boolean,
  ): Promise<RegisteredResource | undefined> {
    let current = seen;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (current === undefined || !owns(current.record)) return undefined;
      try {
        await this.kv.purge(key, { previousSeq: current.revision, ttl: MARKER_TTL });
        // The purge's own revision is later than the one it replaced; the watch brings the exact one.
        this.view.apply(key, current.revision + 1, undefined);
        return current.record;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw error;
      }
      current = await this.current(key);
    }
    throw contended('release', key);
  }

  /** A record no gateway can read is skipped by scans (and logged): one bad value must not stop routing. */
  private decodeOrSkip(key: string, value: Uint8Array): RegisteredResource | undefined {
    try {
      return decodeRecord(key, value);
    } catch (error) {
      if (!(error instanceof ResourceRegistryError)) throw error;
      this.logger.warn({ err: error, bucket: this.bucket, key }, 'unreadable resource record skipped');
      return undefined;
    }
  }
}

/** Without a logger from the process, unreadable records still leave a line on stderr. */
const warningLogger: BusLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (fields, message) => {
    process.emitWarning(message, { detail: describeFields(fields) });
  },
  error: (fields, message) => {
    process.emitWarning(message, { detail: describeFields(fields) });
  },
};

function describeFields(fields: object): string {
  return JSON.stringify(fields, (_key, value: unknown) =>
    value instanceof Error ? `${value.name}: ${value.message}` : value,
  );
}

function keyOf(jid: string): string {
  const slash = jid.indexOf('/');
  if (slash <= 0 || slash === jid.length - 1) {
    throw new ResourceRegistryError('HF_REGISTRY_JID_INVALID', `not a full JID: ${JSON.stringify(jid)}`);
  }
  return `${keyToken(jid.slice(0, slash))}.${keyToken(jid.slice(slash + 1))}`;
}

/**
 * One key token for a JID part. Parts may be long (1023 bytes each, RFC 7622 §3) and escape to three
 * characters per byte, more than a NATS control line carries (the server closes the connection); a token
 * over MAX_TOKEN_LENGTH becomes `=H` + SHA-256 of it, which no escaped token can look like (`=` is only
 * ever followed by two hex digits there).
 */
function keyToken(part: string): string {
  const token = encodeToken(part);
  return token.length <= MAX_TOKEN_LENGTH
    ? token
    : `=H${createHash('sha256').update(token).digest('base64url')}`;
}

function patched(record: RegisteredResource, patch: ResourcePatch): RegisteredResource {
  const { presence, ...rest } = record;
  const next: RegisteredResource = {
    ...rest,
    gateway: patch.gateway ?? record.gateway,
    priority: patch.priority ?? record.priority,
    available: patch.available ?? record.available,
  };
  const nextPresence = 'presence' in patch ? patch.presence : presence;
  return nextPresence === undefined ? next : { ...next, presence: nextPresence };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function encodeRecord(record: RegisteredResource): Uint8Array {
  const stored: StoredRecord = {
    v: RECORD_VERSION,
    jid: record.jid,
    gateway: record.gateway,
    session: record.session,
    priority: record.priority,
    available: record.available,
    boundAt: record.boundAt,
    ...(record.presence === undefined ? {} : { presence: record.presence }),
  };
  return encoder.encode(JSON.stringify(stored));
}

function decodeRecord(key: string, value: Uint8Array): RegisteredResource {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(value));
  } catch (cause) {
    throw new ResourceRegistryError('HF_REGISTRY_RECORD_INVALID', `${key}: not JSON`, { cause });
  }
  if (!isStoredRecord(parsed)) {
    throw new ResourceRegistryError(
      'HF_REGISTRY_RECORD_INVALID',
      `${key}: not a version ${RECORD_VERSION} record`,
    );
  }
  return {
    jid: parsed.jid,
    gateway: parsed.gateway,
    session: parsed.session,
    priority: parsed.priority,
    available: parsed.available,
    boundAt: parsed.boundAt,
    ...(parsed.presence === undefined ? {} : { presence: parsed.presence }),
  };
}

function isStoredRecord(value: unknown): value is StoredRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record.v === RECORD_VERSION &&
    typeof record.jid === 'string' &&
    typeof record.gateway === 'string' &&
    typeof record.session === 'string' &&
    typeof record.priority === 'number' &&
    Number.isInteger(record.priority) &&
    typeof record.available === 'boolean' &&
    typeof record.boundAt === 'string' &&
    (record.presence === undefined || typeof record.presence === 'string')
  );
}

function contended(operation: string, what: string): ResourceRegistryError {
  return new ResourceRegistryError(
    'HF_REGISTRY_CONTENDED',
    `${operation} ${what}: still losing the compare-and-set after ${MAX_ATTEMPTS} attempts`,
  );
}
