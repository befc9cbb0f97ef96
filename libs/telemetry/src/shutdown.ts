import type { Logger } from './logger.js';
import type { Telemetry } from './telemetry.js';

/**
 * A service process's stop on SIGTERM/SIGINT, once: `steps` in order (the app, then its connections),
 * each logged and passed over when it fails so the next still runs, then the telemetry flush and exit 0.
 */
export function stopOnSignals(
  logger: Logger,
  telemetry: Telemetry,
  steps: readonly (readonly [name: string, step: () => Promise<void>])[],
): void {
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    for (const [name, step] of steps) {
      await step().catch((error: unknown) => {
        logger.warn({ err: error, step: name }, 'stop: a part did not stop cleanly');
      });
    }
    await telemetry.shutdown().catch((error: unknown) => {
      logger.warn({ err: error }, 'telemetry flush failed');
    });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
