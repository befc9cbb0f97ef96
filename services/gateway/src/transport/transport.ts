/**
 * One client connection's byte channel, whatever carries it: TCP (with STARTTLS), direct TLS, or a
 * WebSocket (RFC 7395). The XMPP stream logic (stream/) talks only to this interface.
 */
export interface Transport {
  readonly kind: 'tcp' | 'tls' | 'websocket';
  /** Remote address for logs and per-address limits (IPv6 literal or IPv4 dotted quad). */
  readonly remoteAddress: string;
  /** Encrypted now: after STARTTLS on TCP; always on direct TLS; on WebSocket when served over TLS. */
  readonly secure: boolean;
  /**
   * `stream`: one long XML document (TCP, RFC 6120); `framed`: one complete element per message
   * (WebSocket, RFC 7395 §3.3.3). Chooses the StreamParser mode.
   */
  readonly framing: 'stream' | 'framed';
  /** Writes serialized XML. On WebSocket each call is one message and must hold exactly one element. */
  send(data: string): void;
  /**
   * RFC 6120 §5.4.3.3: upgrades the TCP connection in place, after `<proceed/>` was written. Resolves once
   * the TLS handshake completed; rejects (and the transport closes) when it failed. Absent on transports
   * that cannot upgrade.
   */
  readonly startTls?: () => Promise<void>;
  /** Flushes what was sent, then closes. */
  close(): void;
  /** Tears the connection down at once (crash-like), e.g. for a client that floods. */
  destroy(): void;
  /** Raw input, in order. On WebSocket one call per message. */
  onData(handler: (chunk: Buffer | string) => void): void;
  /** Called once, when the connection is gone for any reason. */
  onClose(handler: () => void): void;
}
