import { createRequire } from 'node:module';
import type pinoFactory from 'pino';
import type { DestinationStream, LevelWithSilent, Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** `service` on every line. */
  readonly service: string;
  /** `node` on every line: the config's node_id. */
  readonly node: string;
  readonly level: LevelWithSilent;
  /** Where JSON lines go; stdout when omitted. */
  readonly destination?: DestinationStream;
}

const require = createRequire(import.meta.url);

/**
 * The process's root logger: one JSON object per line with `level` (as a label), `time`, `service`, `node`
 * and `msg`. Components take `logger.child({ component })` from it. With telemetry started, lines logged
 * inside a span also carry trace_id and span_id.
 */
export function createLogger({ service, node, level, destination }: LoggerOptions): Logger {
  // Required at call time instead of imported: the pino instrumentation wraps pino's factory when pino is
  // required after startTelemetry, while a static import here would have bound the unwrapped factory as
  // soon as main.ts imported this library, before telemetry could start.
  const pino = require('pino') as typeof pinoFactory;
  return pino(
    {
      level,
      base: { service, node },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
