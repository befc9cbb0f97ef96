import net from 'node:net';
import tls from 'node:tls';

import { normalizeAddress } from './address.js';
import type { TlsCredentials } from './certificate.js';
import { TlsHandshakeError, TransportClosedError, TransportStateError } from './errors.js';
import type { TransportLogger } from './logger.js';
import type { Transport } from './transport.js';

export interface TcpListenerOptions {
  readonly host: string;
  /** 0 = any free port (see the returned `port`). */
  readonly port: number;
  /**
   * XEP-0368 direct TLS: every connection starts with a TLS handshake (ALPN `xmpp-client`) and reaches
   * `onConnection` only once it completed. `false` or omitted: plain TCP that can upgrade with STARTTLS.
   */
  readonly directTls?: false | TlsCredentials;
  /** Certificate for STARTTLS upgrades (RFC 6120 §5.4); unused on a direct TLS listener. */
  readonly starttls: TlsCredentials;
  readonly logger: TransportLogger;
  /**
   * Concurrent connections per remote address. Connections beyond it are accepted and closed at once without
   * a byte written: the XMPP layer never sees them.
   */
  readonly maxConnectionsPerIp: number;
  readonly onConnection: (transport: Transport) => void;
  /** A TLS handshake (direct, or after `<proceed/>`) not finished in this time fails. Default 30 s. */
  readonly tlsHandshakeTimeoutMs?: number;
  /** After `close()`, a peer that has not closed its side within this time is cut off. Default 10 s. */
  readonly closeTimeoutMs?: number;
  /** Idle time before the first TCP keepalive probe. Default 60 s. */
  readonly keepAliveInitialDelayMs?: number;
}

export interface TcpListener {
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** Stops accepting, closes every connection (gracefully, then by force after `closeTimeoutMs`). */
  close(): Promise<void>;
}

const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
const DEFAULT_KEEPALIVE_INITIAL_DELAY_MS = 60_000;

/** XEP-0368 §3: the ALPN protocol id of client-to-server XMPP. */
const ALPN_XMPP_CLIENT = 'xmpp-client';

/**
 * First byte of a TLS handshake record (RFC 8446 §5.1, ContentType handshake = 22). It cannot occur in the
 * XML stream (XML 1.0 §2.2 excludes U+0016), so everything before it on an upgrading connection is
 * plaintext and everything from it on belongs to TLS.
 */
const TLS_HANDSHAKE_RECORD = 0x16;

/** Plaintext we are willing to skip while waiting for the ClientHello before giving up on the client. */
const MAX_DISCARDED_PLAINTEXT = 64 * 1024;

/** Refusals over the per-address limit are summed into at most one log line per interval. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Accepts c2s TCP connections (RFC 6120 §3) on one port: plain TCP with STARTTLS, or XEP-0368 direct TLS.
 * Sockets start paused and are read only once the XMPP layer registered `onData`.
 */
export async function startTcpListener(options: TcpListenerOptions): Promise<TcpListener> {
  const { logger, maxConnectionsPerIp, onConnection } = options;
  const handshakeTimeoutMs = options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  const keepAliveDelayMs = options.keepAliveInitialDelayMs ?? DEFAULT_KEEPALIVE_INITIAL_DELAY_MS;
  // Built once, up front: a bad certificate or key fails the start instead of every handshake.
  const starttlsContext = tls.createSecureContext(options.starttls);
  const directTlsContext = options.directTls ? tls.createSecureContext(options.directTls) : undefined;

  const perAddress = new Map<string, number>();
  /** Every socket we own: settles once it closed; the transport, once the XMPP layer has one. */
  const sockets = new Map<net.Socket, { readonly closed: Promise<void>; transport?: TcpTransport }>();
  let refusedTotal = 0;
  let refusedSinceLog = 0;
  let lastRefusalLogAt = Number.NEGATIVE_INFINITY;

  const refuse = (socket: net.Socket, remoteAddress: string): void => {
    socket.destroy();
    refusedTotal += 1;
    refusedSinceLog += 1;
    const now = performance.now();
    if (now - lastRefusalLogAt >= REFUSAL_LOG_INTERVAL_MS) {
      logger.warn(
        { remoteAddress, limit: maxConnectionsPerIp, refused: refusedSinceLog, refusedTotal },
        'refused connections over the per-address limit',
      );
      refusedSinceLog = 0;
      lastRefusalLogAt = now;
    }
  };

  const release = (remoteAddress: string): void => {
    const count = (perAddress.get(remoteAddress) ?? 1) - 1;
    if (count > 0) perAddress.set(remoteAddress, count);
    else perAddress.delete(remoteAddress);
  };

  const hand = (socket: net.Socket, transport: TcpTransport): void => {
    const entry = sockets.get(socket);
    if (entry) entry.transport = transport;
    try {
      onConnection(transport);
    } catch (error) {
      logger.error({ err: error, remoteAddress: transport.remoteAddress }, 'onConnection threw');
      transport.destroy();
    }
  };

  const startDirectTls = (socket: net.Socket, context: tls.SecureContext, remoteAddress: string): void => {
    const secureSocket = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: [ALPN_XMPP_CLIENT],
    });
    const timer = setTimeout(() => {
      logger.debug?.({ remoteAddress }, 'direct TLS handshake timed out');
      secureSocket.destroy();
    }, handshakeTimeoutMs);
    const onError = (error: Error): void => {
      clearTimeout(timer);
      logger.debug?.({ err: error, remoteAddress }, 'direct TLS handshake failed');
      secureSocket.destroy();
    };
    secureSocket.on('error', onError);
    secureSocket.once('close', () => {
      clearTimeout(timer);
    });
    secureSocket.once('secure', () => {
      clearTimeout(timer);
      secureSocket.removeListener('error', onError);
      const transport = new TcpTransport({
        raw: socket,
        secureSocket,
        remoteAddress,
        logger,
        handshakeTimeoutMs,
        closeTimeoutMs,
      });
      hand(socket, transport);
    });
  };

  const accept = (socket: net.Socket): void => {
    if (socket.remoteAddress === undefined) {
      // Already reset by the peer before we got to it.
      socket.destroy();
      return;
    }
    const remoteAddress = normalizeAddress(socket.remoteAddress);
    const count = perAddress.get(remoteAddress) ?? 0;
    if (count >= maxConnectionsPerIp) {
      refuse(socket, remoteAddress);
      return;
    }
    perAddress.set(remoteAddress, count + 1);
    const closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        sockets.delete(socket);
        release(remoteAddress);
        resolve();
      });
    });
    sockets.set(socket, { closed });
    socket.on('error', (error) => {
      logger.debug?.({ err: error, remoteAddress }, 'socket error');
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, keepAliveDelayMs);
    if (directTlsContext) {
      startDirectTls(socket, directTlsContext, remoteAddress);
    } else {
      hand(
        socket,
        new TcpTransport({
          raw: socket,
          starttlsContext,
          remoteAddress,
          logger,
          handshakeTimeoutMs,
          closeTimeoutMs,
        }),
      );
    }
  };

  const server = net.createServer({ pauseOnConnect: true }, accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => {
    logger.error({ err: error }, 'TCP listener error');
  });
  const port = (server.address() as net.AddressInfo).port;
  logger.info(
    { host: options.host, port, directTls: directTlsContext !== undefined },
    'listening for XMPP client connections',
  );

  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        });
        // The server reports closed before its sockets' own close events ran: wait for those too, so
        // every onClose has fired when this settles.
        const gone = [...sockets].map(([socket, { closed, transport }]) => {
          if (transport) transport.close();
          else socket.destroy();
          return closed;
        });
        await Promise.all([stopped, ...gone]);
      })();
      return closing;
    },
  };
}

interface TcpTransportInit {
  readonly raw: net.Socket;
  /** Direct TLS: the socket after its completed handshake. */
  readonly secureSocket?: tls.TLSSocket;
  /** Plain TCP: what `startTls()` upgrades with. */
  readonly starttlsContext?: tls.SecureContext;
  readonly remoteAddress: string;
  readonly logger: TransportLogger;
  readonly handshakeTimeoutMs: number;
  readonly closeTimeoutMs: number;
}

type TcpState = 'plain' | 'upgrading' | 'secure' | 'closed';

/** One c2s TCP connection; `kind` stays `tcp` after STARTTLS, `secure` turns true. */
class TcpTransport implements Transport {
  readonly kind: 'tcp' | 'tls';
  readonly framing = 'stream';
  readonly remoteAddress: string;
  readonly startTls?: () => Promise<void>;

  private state: TcpState;
  private encrypted: boolean;
  private closing = false;
  /** The socket application data flows through: `raw`, or the TLS socket wrapping it. */
  private active: net.Socket;
  private readonly raw: net.Socket;
  private readonly logger: TransportLogger;
  private readonly handshakeTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly dataHandlers: ((chunk: Buffer) => void)[] = [];
  private readonly closeHandlers: (() => void)[] = [];
  /** What the XMPP layer sent while the handshake ran; written encrypted once it completed. */
  private readonly heldBack: string[] = [];
  private closeTimer: NodeJS.Timeout | undefined;
  private abortUpgrade: ((error: Error) => void) | undefined;

  constructor(init: TcpTransportInit) {
    this.raw = init.raw;
    this.remoteAddress = init.remoteAddress;
    this.logger = init.logger;
    this.handshakeTimeoutMs = init.handshakeTimeoutMs;
    this.closeTimeoutMs = init.closeTimeoutMs;
    this.raw.once('close', this.finish);
    if (init.secureSocket) {
      this.kind = 'tls';
      this.state = 'secure';
      this.encrypted = true;
      this.active = init.secureSocket;
      this.watchSecureSocket(init.secureSocket);
    } else {
      this.kind = 'tcp';
      this.state = 'plain';
      this.encrypted = false;
      this.active = this.raw;
      const context = init.starttlsContext;
      if (context) this.startTls = () => this.upgrade(context);
    }
  }

  get secure(): boolean {
    return this.encrypted;
  }

  send(data: string): void {
    if (this.state === 'closed' || this.closing) {
      this.logger.debug?.({ remoteAddress: this.remoteAddress }, 'send on a closing connection dropped');
      return;
    }
    if (this.state === 'upgrading') {
      this.heldBack.push(data);
      return;
    }
    // Everything written in one turn of the event loop (a flush of stanzas, then <r/>) leaves in one
    // system call.
    const socket = this.active;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    socket.write(data);
  }

  private corked = false;

  close(): void {
    if (this.state === 'closed' || this.closing) return;
    this.closing = true;
    if (this.state === 'upgrading') {
      // Nothing can be flushed through a half-done handshake.
      this.destroy();
      return;
    }
    this.active.end();
    this.closeTimer = setTimeout(() => {
      this.logger.debug?.({ remoteAddress: this.remoteAddress }, 'peer did not close in time');
      this.destroy();
    }, this.closeTimeoutMs);
  }

  destroy(): void {
    this.active.destroy();
    this.raw.destroy();
  }

  onData(handler: (chunk: Buffer) => void): void {
    this.dataHandlers.push(handler);
    if (this.dataHandlers.length === 1 && (this.state === 'plain' || this.state === 'secure')) {
      this.startReading();
    }
  }

  onClose(handler: () => void): void {
    if (this.state === 'closed') {
      this.callCloseHandler(handler);
      return;
    }
    this.closeHandlers.push(handler);
  }

  private startReading(): void {
    this.active.on('data', this.deliver);
    this.active.resume();
  }

  private readonly deliver = (chunk: Buffer): void => {
    for (const handler of this.dataHandlers) {
      try {
        handler(chunk);
      } catch (error) {
        this.logger.error({ err: error, remoteAddress: this.remoteAddress }, 'onData handler threw');
        this.destroy();
        return;
      }
    }
  };

  private readonly finish = (): void => {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.closeTimer);
    this.abortUpgrade?.(new TransportClosedError('STARTTLS'));
    for (const handler of this.closeHandlers.splice(0)) this.callCloseHandler(handler);
  };

  private callCloseHandler(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.logger.error({ err: error, remoteAddress: this.remoteAddress }, 'onClose handler threw');
    }
  }

  private watchSecureSocket(secureSocket: tls.TLSSocket): void {
    secureSocket.once('close', this.finish);
    secureSocket.on('error', (error: Error) => {
      this.logger.debug?.({ err: error, remoteAddress: this.remoteAddress }, 'TLS error');
    });
  }

  /**
   * RFC 6120 §5.4.3.3: the client sends nothing after `<starttls/>` until it has read `<proceed/>`, then starts
   * the handshake. Plaintext read from the socket after `<proceed/>` was written - still buffered in the
   * socket or arriving before the ClientHello - was either sent too early or injected by someone on the
   * path, and must never reach the XML stream (the STARTTLS command injection class, CVE-2011-0411). It is
   * dropped up to the first TLS handshake record byte; the TLS layer gets the rest. Bytes that came in the
   * same read as `<starttls/>` were already delivered: the stream layer drops what follows `<starttls/>` in
   * its parser.
   */
  private upgrade(context: tls.SecureContext): Promise<void> {
    if (this.state !== 'plain' || this.closing) {
      return Promise.reject(
        new TransportStateError(`STARTTLS on a ${this.closing ? 'closing' : this.state} connection`),
      );
    }
    this.state = 'upgrading';
    const raw = this.raw;
    raw.removeListener('data', this.deliver);
    raw.pause();

    return new Promise<void>((resolve, reject) => {
      let discarded = 0;
      let settled = false;

      const settle = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        raw.removeListener('data', onPlaintext);
        this.abortUpgrade = undefined;
        if (error === undefined) {
          resolve();
          return;
        }
        if (!(error instanceof TransportClosedError)) {
          this.logger.debug?.(
            { err: error, remoteAddress: this.remoteAddress, discarded },
            'STARTTLS failed',
          );
        }
        reject(error);
        this.destroy();
      };
      this.abortUpgrade = settle;

      const timer = setTimeout(() => {
        settle(
          new TlsHandshakeError(`no TLS handshake within ${this.handshakeTimeoutMs} ms after <proceed/>`),
        );
      }, this.handshakeTimeoutMs);

      /** Returns true once the handshake has taken over the socket. */
      const scan = (chunk: Buffer): boolean => {
        const start = chunk.indexOf(TLS_HANDSHAKE_RECORD);
        if (start === -1) {
          discarded += chunk.length;
          if (discarded > MAX_DISCARDED_PLAINTEXT) {
            settle(
              new TlsHandshakeError(
                `more than ${MAX_DISCARDED_PLAINTEXT} bytes of plaintext after <proceed/>`,
              ),
            );
            return true;
          }
          return false;
        }
        discarded += start;
        raw.removeListener('data', onPlaintext);
        raw.pause();
        // The TLS socket feeds whatever `raw` still buffers into the handshake before reading on.
        raw.unshift(chunk.subarray(start));
        handshake();
        return true;
      };

      const onPlaintext = (chunk: Buffer): void => {
        scan(chunk);
      };

      const handshake = (): void => {
        const secureSocket = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
        this.watchSecureSocket(secureSocket);
        secureSocket.on('error', (error) => {
          settle(new TlsHandshakeError('STARTTLS handshake failed', { cause: error }));
        });
        secureSocket.once('secure', () => {
          if (this.state !== 'upgrading') return;
          this.state = 'secure';
          this.encrypted = true;
          this.active = secureSocket;
          if (discarded > 0) {
            this.logger.warn(
              { remoteAddress: this.remoteAddress, discarded },
              'discarded plaintext received between <proceed/> and the TLS handshake',
            );
          }
          if (this.dataHandlers.length > 0) this.startReading();
          for (const data of this.heldBack.splice(0)) secureSocket.write(data);
          settle();
        });
      };

      let buffered: unknown;
      while ((buffered = raw.read()) !== null) {
        if (scan(buffered as Buffer)) return;
      }
      raw.on('data', onPlaintext);
      raw.resume();
    });
  }
}
