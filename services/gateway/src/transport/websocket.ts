import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

import fastifyWebsocket from '@fastify/websocket';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

import { normalizeAddress, urlHost } from './address.js';
import type { TlsCredentials } from './certificate.js';
import type { TransportLogger } from './logger.js';
import type { Transport } from './transport.js';

export interface WebSocketAppOptions {
  /** Default `/xmpp-websocket`. */
  readonly path?: string;
  /** Serve wss:// (transports are `secure`). */
  readonly tls?: TlsCredentials | undefined;
  readonly logger: TransportLogger;
  /** Largest WebSocket message accepted; a larger one closes the connection with 1009 (RFC 6455 §7.4.1). */
  readonly maxMessageBytes: number;
  readonly onConnection: (transport: Transport) => void;
  /** WebSocket ping interval; a connection without a pong by the next ping is terminated. Default 30 s. */
  readonly pingIntervalMs?: number;
  /** How long a closing connection waits for the peer's close frame before the socket is cut. Default 10 s. */
  readonly closeTimeoutMs?: number;
}

export interface WebSocketListenerOptions extends WebSocketAppOptions {
  readonly host: string;
  /** 0 = any free port (see the returned `port`). */
  readonly port: number;
}

export interface WebSocketListener {
  readonly port: number;
  /** e.g. `ws://127.0.0.1:5280/xmpp-websocket`, for logs and tests. */
  readonly url: string;
  /** Stops accepting, closes every connection with 1001 (going away) and waits for them to end. */
  close(): Promise<void>;
}

export const DEFAULT_WEBSOCKET_PATH = '/xmpp-websocket';
const DEFAULT_PING_INTERVAL_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/** RFC 7395 §3.1. */
const XMPP_SUBPROTOCOL = 'xmpp';

/** RFC 6455 §7.4.1 status codes. */
const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_UNSUPPORTED_DATA = 1003;

/** `WebSocket.OPEN` of the `ws` package. */
const WS_OPEN = 1;

/**
 * The part of a `ws` WebSocket this module uses. `ws` ships no type declarations (and @types/ws is not a
 * dependency), so @fastify/websocket hands its sockets over as `any`; this pins down what we rely on.
 */
interface WsSocket {
  readonly readyState: number;
  send(data: string, callback: (error?: Error) => void): void;
  ping(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'pong', listener: () => void): this;
}

/**
 * The fastify app behind the WebSocket listener, not listening yet (`inject()` works for the HTTP routes):
 * `GET <path>` upgrades to an RFC 7395 connection, `GET /health` answers `{ ok: true }` for probes.
 */
export function buildWebSocketApp(options: WebSocketAppOptions): FastifyInstance {
  const { logger, onConnection, tls } = options;
  const path = options.path ?? DEFAULT_WEBSOCKET_PATH;
  const pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  const transports = new Set<WebSocketTransport>();

  const app = fastify({
    // One server type for both schemes: https.Server is an http.Server as far as fastify is concerned.
    serverFactory: (handler) =>
      tls ? https.createServer({ cert: tls.cert, key: tls.key }, handler) : http.createServer(handler),
  });

  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const statusCode = error.statusCode ?? 500;
    if (statusCode >= 500) logger.error({ err: error, url: request.url }, 'request failed');
    else logger.debug?.({ err: error, url: request.url }, 'bad request');
    return reply.code(statusCode).send({ error: statusCode >= 500 ? 'internal error' : error.message });
  });

  void app.register(fastifyWebsocket, {
    options: {
      maxPayload: options.maxMessageBytes,
      closeTimeout: options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS,
      // Compression under TLS invites CRIME/BREACH-style leaks and costs memory per connection.
      perMessageDeflate: false,
      handleProtocols: (offered: Set<string>) => (offered.has(XMPP_SUBPROTOCOL) ? XMPP_SUBPROTOCOL : false),
    },
    errorHandler: (error: Error, socket: WsSocket, request: FastifyRequest) => {
      // ws has already started closing with the fitting code (1002, 1007, 1009, ...) when it reports a
      // protocol error; cutting the socket now could lose that close frame.
      logger.debug?.({ err: error, remoteAddress: request.socket.remoteAddress }, 'WebSocket error');
      if (socket.readyState === WS_OPEN) socket.terminate();
    },
  });

  void app.register((instance, _options, done) => {
    instance.get('/health', (_request, reply) => reply.send({ ok: true }));

    instance.route({
      method: 'GET',
      url: path,
      onRequest: (request, reply, next) => {
        if (!request.ws || offersXmpp(request)) {
          next();
          return;
        }
        // RFC 7395 §3.1: without `xmpp` in the client's Sec-WebSocket-Protocol no XMPP connection can exist,
        // and a client whose handshake response lacks it must close at once. Answering the handshake with
        // 400 (RFC 6455 §4.2.1/§4.2.2: a server that will not accept the handshake answers with an HTTP
        // error) says so before any frame, instead of upgrading a connection that can carry nothing.
        logger.debug?.({ remoteAddress: request.socket.remoteAddress }, 'WebSocket handshake without xmpp');
        void reply
          .code(400)
          .send({ error: 'the xmpp WebSocket subprotocol is required (RFC 7395 section 3.1)' });
      },
      handler: (_request: FastifyRequest, reply: FastifyReply) =>
        reply
          .code(426)
          .header('upgrade', 'websocket')
          .send({ error: 'XMPP over WebSocket (RFC 7395): upgrade required' }),
      wsHandler: (socket: WsSocket, request: FastifyRequest) => {
        const transport = new WebSocketTransport(
          socket,
          normalizeAddress(request.socket.remoteAddress ?? ''),
          tls !== undefined,
          logger,
          pingIntervalMs,
        );
        transports.add(transport);
        transport.onClose(() => transports.delete(transport));
        try {
          onConnection(transport);
        } catch (error) {
          logger.error({ err: error, remoteAddress: transport.remoteAddress }, 'onConnection threw');
          transport.destroy();
        }
      },
    });
    done();
  });

  app.addHook('preClose', (done) => {
    for (const transport of transports) transport.goAway();
    done();
  });
  // The HTTP server does not wait for upgraded sockets; `close()` does, bounded by ws's closeTimeout.
  app.addHook('onClose', async () => {
    await Promise.all([...transports].map((transport) => transport.closed));
  });

  return app;
}

/** Starts {@link buildWebSocketApp} on `host:port`. */
export async function startWebSocketListener(options: WebSocketListenerOptions): Promise<WebSocketListener> {
  const app = buildWebSocketApp(options);
  await app.listen({ host: options.host, port: options.port });
  const { port } = app.server.address() as AddressInfo;
  const url = `${options.tls ? 'wss' : 'ws'}://${urlHost(options.host)}:${port}${options.path ?? DEFAULT_WEBSOCKET_PATH}`;
  options.logger.info({ url }, 'listening for XMPP WebSocket connections');
  let closing: Promise<void> | undefined;
  return {
    port,
    url,
    close: () => (closing ??= app.close()),
  };
}

function offersXmpp(request: FastifyRequest): boolean {
  const header = request.headers['sec-websocket-protocol'];
  if (header === undefined) return false;
  return header.split(',').some((protocol) => protocol.trim() === XMPP_SUBPROTOCOL);
}

/**
 * One RFC 7395 connection: each text message is one `onData` call holding one complete element (§3.3.3),
 * each `send` one message.
 */
class WebSocketTransport implements Transport {
  readonly kind = 'websocket';
  readonly framing = 'framed';

  /** Settles once the connection is gone. */
  readonly closed: Promise<void>;
  private isClosed = false;
  private markClosed: () => void = () => undefined;
  private alive = true;
  private readonly pinger: NodeJS.Timeout;
  private readonly dataHandlers: ((message: string) => void)[] = [];
  /** Messages that came before the XMPP layer registered `onData`. */
  private readonly early: string[] = [];
  private readonly closeHandlers: (() => void)[] = [];

  constructor(
    private readonly socket: WsSocket,
    readonly remoteAddress: string,
    readonly secure: boolean,
    private readonly logger: TransportLogger,
    pingIntervalMs: number,
  ) {
    socket.on('message', this.receive);
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', (code, reason) => {
      this.finish(code, reason.toString('utf8'));
    });
    this.pinger = setInterval(this.keepAlive, pingIntervalMs);
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
  }

  send(data: string): void {
    if (this.socket.readyState !== WS_OPEN) {
      this.logger.debug?.({ remoteAddress: this.remoteAddress }, 'send on a closing WebSocket dropped');
      return;
    }
    this.socket.send(data, (error) => {
      if (error)
        this.logger.debug?.({ err: error, remoteAddress: this.remoteAddress }, 'WebSocket send failed');
    });
  }

  /** The close frame is queued behind every message sent before, so those are delivered first. */
  close(): void {
    this.socket.close(CLOSE_NORMAL);
  }

  destroy(): void {
    this.socket.terminate();
  }

  /** Listener shutdown (RFC 6455 §7.4.1: 1001, the server is going down). */
  goAway(): void {
    this.socket.close(CLOSE_GOING_AWAY, 'server shutting down');
  }

  onData(handler: (message: string) => void): void {
    this.dataHandlers.push(handler);
    if (this.dataHandlers.length === 1) {
      for (const message of this.early.splice(0)) this.deliver(message);
    }
  }

  onClose(handler: () => void): void {
    if (this.isClosed) {
      this.callCloseHandler(handler);
      return;
    }
    this.closeHandlers.push(handler);
  }

  private readonly receive = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
    if (this.isClosed) return;
    if (isBinary) {
      // RFC 7395 §3.2: data frames MUST be text. A binary frame is not XMPP that could be answered with a
      // stream error: it means the peer does not speak this subprotocol, and RFC 6455 §7.4.1 has a code for
      // exactly that (1003, data of a type the endpoint cannot accept).
      this.logger.debug?.({ remoteAddress: this.remoteAddress }, 'binary WebSocket message; closing');
      this.socket.close(CLOSE_UNSUPPORTED_DATA, 'text frames only (RFC 7395)');
      return;
    }
    // ws has checked the UTF-8 of text messages (invalid ones close with 1007).
    const message = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    if (this.dataHandlers.length === 0) this.early.push(message);
    else this.deliver(message);
  };

  private deliver(message: string): void {
    for (const handler of this.dataHandlers) {
      try {
        handler(message);
      } catch (error) {
        this.logger.error({ err: error, remoteAddress: this.remoteAddress }, 'onData handler threw');
        this.destroy();
        return;
      }
    }
  }

  private readonly keepAlive = (): void => {
    if (!this.alive) {
      this.logger.debug?.({ remoteAddress: this.remoteAddress }, 'no pong since the last ping; terminating');
      this.socket.terminate();
      return;
    }
    this.alive = false;
    if (this.socket.readyState === WS_OPEN) this.socket.ping();
  };

  private finish(code: number, reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.pinger);
    this.markClosed();
    this.logger.debug?.({ remoteAddress: this.remoteAddress, code, reason }, 'WebSocket closed');
    for (const handler of this.closeHandlers.splice(0)) this.callCloseHandler(handler);
  }

  private callCloseHandler(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.logger.error({ err: error, remoteAddress: this.remoteAddress }, 'onClose handler threw');
    }
  }
}
