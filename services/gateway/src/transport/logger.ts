/**
 * The part of a pino logger the transports use; callers pass `logger.child({ component })`. Per-connection
 * noise (resets, handshake failures, keepalive timeouts) goes to `debug`, which may be left out.
 */
export interface TransportLogger {
  debug?(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}
