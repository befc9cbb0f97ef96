import { isIPv6 } from 'node:net';

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * A socket's remote address as the Transport interface promises it: IPv4 clients on a dual-stack
 * listener show up as `::ffff:a.b.c.d`, which must count as `a.b.c.d` for per-address limits.
 */
export function normalizeAddress(address: string): string {
  return IPV4_MAPPED.exec(address)?.[1] ?? address;
}

/** `host` as it goes into a URL authority (IPv6 literals in brackets, RFC 3986 §3.2.2). */
export function urlHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}
