import { loadConfig } from '@holdfast/config';
import { createLogger, startTelemetry } from '@holdfast/telemetry';

/**
 * The timeout process: config, telemetry, then (imported only after telemetry started, so its modules
 * are instrumented) the bus and the app. SIGTERM/SIGINT give the partitions back, then drain.
 */
const { config, warnings } = loadConfig();
const telemetry = await startTelemetry({ serviceName: 'timeout', config });
const logger = createLogger({ service: 'timeout', node: config.node_id, level: config.log_level });
for (const warning of warnings) logger.warn({}, warning);

const [{ Bus }, { build }] = await Promise.all([import('@holdfast/bus'), import('./app.js')]);

const bus = await Bus.connect({
  url: config.nats_url,
  name: `timeout/${config.node_id}`,
  node: config.node_id,
  logger,
});
await bus.ensureStreams(undefined, { replicas: config.nats_stream_replicas });
const app = build({ config, bus, logger });
await app.start();
logger.info({ partitions: app.leases.partitions }, 'timeout ready');

let stopping = false;
const stop = async (signal: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await app.stop().catch((error: unknown) => {
    logger.warn({ err: error }, 'stop: some parts did not stop cleanly');
  });
  await bus.drain();
  await telemetry.shutdown().catch((error: unknown) => {
    logger.warn({ err: error }, 'telemetry flush failed');
  });
  process.exit(0);
};
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
