import { randomBytes } from 'node:crypto';

import { inject } from 'vitest';

import './provided.js';

export interface TestInfrastructure {
  readonly natsUrl: string;
  readonly mongoUrl: string;
}

/** The servers the global setup started (or that NATS_URL / MONGO_URL named). */
export function testInfrastructure(): TestInfrastructure {
  return { natsUrl: inject('natsUrl'), mongoUrl: inject('mongoUrl') };
}

/** A random id safe in subjects, durable names and database names, so test files never collide. */
export function uniqueId(prefix = 't'): string {
  return `${prefix}${randomBytes(9).toString('base64url').replaceAll('-', 'x').replaceAll('_', 'y')}`;
}

/** Polls `probe` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: object;
  readonly message: string;
}

/** A pino-compatible logger that keeps its records, so tests can assert what was logged. */
export function recordingLogger(): {
  readonly records: LogRecord[];
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
} {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (fields: object, message: string) => {
    records.push({ level, fields, message });
  };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
