/**
 * Session events are spread over a fixed number of partitions so that several session-state workers can
 * each own some, while all events of one session stay on one partition (and so in order). The partition
 * is part of the subject, computed by the publisher: the same function everywhere, no server-side mapping.
 * Changing the count re-partitions existing sessions, so it is a migration, not a setting.
 */
export const SESSION_PARTITIONS = 16;

/** FNV-1a (32 bit) over the UTF-8 bytes of `key`, modulo `count`. */
export function partitionOf(key: string, count: number = SESSION_PARTITIONS): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(key)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}
